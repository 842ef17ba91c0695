"""Stop and start the shared RabbitMQ and PostgreSQL servers.

Both servers are shared with every other test run on the machine, so
:func:`outage` first waits until no other pytest or benchmark is running
(:func:`wait_for_quiet_machine`) and always starts the server again, even
when the test fails. ``rabbitmqctl`` and ``pg_ctlcluster`` must be on PATH
and the tests must run as a user allowed to use them (root in CI).
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import subprocess
import time
from typing import Callable, Iterator

import pytest

QUIET_WAIT = 20 * 60   # how long to wait for other test runs to end
QUIET_POLL = 10
BUSY = r"pytest|bench"
START_TIMEOUT = 180


def _ppid(pid: int) -> int:
    stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def _own_tree() -> set[int]:
    """This process, its ancestors and all its descendants."""
    mine = {os.getpid()}
    pid = os.getpid()
    with contextlib.suppress(OSError, ValueError, IndexError):
        while pid > 1:
            pid = _ppid(pid)
            mine.add(pid)
    parents: dict[int, int] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parents[int(entry.name)] = _ppid(int(entry.name))
    grew = True
    while grew:
        new = {pid for pid, parent in parents.items()
               if parent in mine and pid not in mine and pid != 1}
        mine |= new
        grew = bool(new)
    return mine


def others_busy() -> list[str]:
    """Command lines of pytest or bench processes that are not ours."""
    result = subprocess.run(["pgrep", "-af", BUSY], capture_output=True,
                            text=True, check=False)
    mine = _own_tree()
    busy = []
    for line in result.stdout.splitlines():
        pid, _, cmdline = line.partition(" ")
        if int(pid) not in mine and not cmdline.startswith("pgrep"):
            busy.append(line)
    return busy


def wait_for_quiet_machine(timeout: float = QUIET_WAIT) -> float:
    """Wait until no one else's tests run; return how long that took.

    Outside CI, a machine still busy after ``timeout`` skips the test
    rather than break someone else's run; under CI it goes ahead.
    """
    start = time.monotonic()
    while busy := others_busy():
        if time.monotonic() - start > timeout:
            if os.environ.get("CI"):
                break
            pytest.skip("other test runs still busy after "
                        f"{timeout:.0f}s: {busy[:3]}")
        time.sleep(QUIET_POLL)
    return time.monotonic() - start


def _run(*argv: str, timeout: float = START_TIMEOUT,
         check: bool = True) -> subprocess.CompletedProcess:
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is needed for this fault test")
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, check=check)


# -- RabbitMQ -----------------------------------------------------------------

def rabbit_stop_app() -> None:
    """The gentle form: the node stays, the broker application stops."""
    _run("rabbitmqctl", "-q", "stop_app")


def rabbit_stop() -> None:
    """The hard form: the whole Erlang node goes."""
    _run("rabbitmqctl", "-q", "stop")
    deadline = time.monotonic() + START_TIMEOUT
    while _run("rabbitmqctl", "-q", "ping", check=False,
               timeout=60).returncode == 0:
        assert time.monotonic() < deadline, "RabbitMQ did not stop"
        time.sleep(0.5)


def rabbit_start() -> None:
    """Start the node if it is down, the application if it is stopped."""
    if _run("rabbitmqctl", "-q", "ping", check=False,
            timeout=60).returncode != 0:
        _run("rabbitmq-server", "-detached")
    else:
        _run("rabbitmqctl", "-q", "start_app", check=False)
    # await_startup fails at once (69) while a fresh node is not even
    # reachable yet: poll it, as .ci/run does.
    deadline = time.monotonic() + START_TIMEOUT
    while _run("rabbitmqctl", "-q", "await_startup", "--timeout", "10",
               check=False, timeout=60).returncode != 0:
        assert time.monotonic() < deadline, "RabbitMQ did not come back"
        time.sleep(1)


# -- PostgreSQL ---------------------------------------------------------------

def _pg_cluster() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql"),
                      key=lambda v: [int(x) for x in re.findall(r"\d+", v)])
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1],
            "main"]


def pg_stop() -> None:
    _run(*_pg_cluster(), "stop", "-m", "fast")


def pg_start() -> None:
    if _run("pg_isready", "-q", "-h", "127.0.0.1", check=False,
            timeout=30).returncode != 0:
        _run(*_pg_cluster(), "start", check=False)
    deadline = time.monotonic() + START_TIMEOUT
    while _run("pg_isready", "-q", "-h", "127.0.0.1", check=False,
               timeout=30).returncode != 0:
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.5)


@contextlib.contextmanager
def outage(stop: Callable[[], None],
           start: Callable[[], None]) -> Iterator[Callable[[], None]]:
    """Stop a shared server; yield a function that starts it again.

    Whatever happens in the block, the server is started again on the
    way out (starting one already up does nothing).
    """
    wait_for_quiet_machine()
    stop()
    try:
        yield start
    finally:
        start()
