"""A Manager for the integration tier: every effect lands in a journal file.

Run it with ``worker --topic echo`` and a config file that says::

    [DEFAULT]
    echo_manager = tests.integration.managers.EchoManager

    [echo]
    journal = /path/to/journal

(``tests`` must be importable: the tests set PYTHONPATH to the repository
root.) Each effect appends one line ``<pid> <event> [<argument>]`` to the
journal with a single ``O_APPEND`` write, so lines from several worker
processes never interleave and the test can tell which process did what.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

import eventlet
from oslo_config import cfg

from capstan.common import rpc
from capstan.common.manager import Manager
from capstan.common.periodic import periodic_task
from capstan_volumes.volume.manager import VolumeManager

LOG = logging.getLogger(__name__)

echo_opts = [
    cfg.StrOpt("journal", help="File the EchoManager appends its events to."),
]


def append(path: str, event: str, argument: Any = None) -> None:
    """Append ``<pid> <event> [<argument>]`` to ``path`` in one write."""
    line = f"{os.getpid()} {event}"
    if argument is not None:
        line += f" {argument}"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read(path: str) -> list[tuple[int, str, str | None]]:
    """The journal as ``(pid, event, argument)`` tuples, oldest first."""
    try:
        with open(path, encoding="utf-8") as journal:
            lines = journal.read().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        pid, _, rest = line.partition(" ")
        event, _, argument = rest.partition(" ")
        entries.append((int(pid), event, argument or None))
    return entries


class EchoManager(Manager):
    """Answers ``echo``, journals ``record`` and ``slow``, ticks every second."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            self.conf.register_opts(echo_opts, group="echo")
        except cfg.DuplicateOptError:
            pass
        self.journal = self.conf.echo.journal
        if not self.journal:
            raise ValueError("EchoManager needs [echo] journal")

    def init_host(self, service_id: int) -> None:
        append(self.journal, "init_host", service_id)

    @rpc.method
    def echo(self, context: Any, value: Any) -> dict:
        """RPC call: answer with the value, this pid and the request id."""
        # The test looks for this line in the worker's log: oslo.log adds the
        # current context's request id, which came across the bus.
        LOG.info("echo called with %s", value)
        return {"value": value, "pid": os.getpid(),
                "request_id": context.request_id}

    @rpc.method
    def record(self, context: Any, tag: str) -> None:
        """RPC cast: journal ``record <tag>``."""
        append(self.journal, "record", tag)

    @rpc.method
    def slow(self, context: Any, tag: str, seconds: float) -> None:
        """RPC cast: journal the start, sleep, journal the completion."""
        append(self.journal, "slow-start", tag)
        # A test manager may sleep: the point is an in-flight call that
        # outlives the SIGTERM.
        eventlet.sleep(seconds)
        append(self.journal, "slow-done", tag)

    @periodic_task(spacing=1)
    def tick(self, context: Any) -> None:
        append(self.journal, "tick")


class SingletonManager(Manager):
    """Journals ``singleton <time>`` from the one process that holds the job.

    ``tick`` runs in every process; ``once`` only where this process holds
    the job, through ``[coordination]``. Run with ``worker --topic
    singleton`` and ``[DEFAULT] singleton_manager =
    tests.integration.managers.SingletonManager``.
    """

    # Seconds between two runs (and two tries to take the job).
    SPACING = 3

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        try:
            self.conf.register_opts(echo_opts, group="echo")
        except cfg.DuplicateOptError:
            pass
        self.journal = self.conf.echo.journal
        if not self.journal:
            raise ValueError("SingletonManager needs [echo] journal")

    @periodic_task(spacing=SPACING, run_immediately=True, singleton=True)
    def once(self, context: Any) -> None:
        append(self.journal, "singleton", f"{time.time():.3f}")

    @periodic_task(spacing=1)
    def tick(self, context: Any) -> None:
        append(self.journal, "tick")


class PreSnapshotVolumeManager(VolumeManager):
    """The volume Manager as it was before snapshots: RPC 1.0, no
    snapshot methods (a subclass's attribute hides its base's, so the
    derived version is 1.0). For the rolling-upgrade test."""

    create_snapshot = None
    delete_snapshot = None

    def resume_snapshots(self, context: Any, older_than: float = 60) -> None:
        """Nothing: this version knows no snapshots."""
