"""Coordination: jobs that run in one process of the deployment at a time.

A periodic task marked ``singleton=True`` is a *job*: every process that
has it tries, each time it is due, to :meth:`Coordination.hold` the job's
lock, and runs it only if it holds the lock. The locks are tooz locks on
``[coordination] backend_url``:

* ``file://`` (the default, under ``state_path``): a file lock per job,
  released by the kernel the moment its process dies; one machine only.
* ``redis://`` or ``etcd3+http://``: a lock that expires
  ``[coordination] lock_timeout`` seconds after its holder's last refresh;
  several machines.

The service refreshes the locks it holds every :attr:`heartbeat_interval`
(a third of the lock timeout) from its own green thread (see
:class:`capstan.common.service.ServiceTimers`); nothing here spawns. A
process that dies stops refreshing, its locks expire, and another process
takes the job the next time the job is due there: fail-over takes at most
``lock_timeout`` plus the task's spacing.

A backend that cannot be reached is not an error: :meth:`hold` answers
False (the jobs are skipped everywhere rather than run twice), one warning
says so, each heartbeat tries to reconnect, and the jobs resume when it is
back. Locks held before an outage are given up: another process may have
taken them meanwhile. The call that finds the backend gone may itself take
about a minute with Redis (redis-py and tooz both retry), once per outage.
"""
from __future__ import annotations

import logging
import os
import threading
import urllib.parse
import uuid
from typing import Any, Callable, Protocol

import stevedore.exception
import tooz
from oslo_config import cfg
from tooz import coordination as tooz_coordination

from capstan.common import exception

LOG = logging.getLogger(__name__)


class Lock(Protocol):
    """What Coordination uses of a tooz lock."""

    def acquire(self, blocking: bool = True) -> bool: ...

    def release(self) -> bool: ...

    def is_still_owner(self) -> bool: ...


class Coordinator(Protocol):
    """What Coordination uses of a started tooz coordinator."""

    def get_lock(self, name: bytes) -> Lock: ...

    def heartbeat(self) -> float: ...

    def stop(self) -> None: ...


# connect(backend_url, member_id, lock_timeout) -> a started Coordinator;
# raises tooz.ToozError when the backend cannot be reached.
Connect = Callable[[str, bytes, int], Coordinator]


def tooz_connect(backend_url: str, member_id: bytes,
                 lock_timeout: int) -> Coordinator:
    """Build and start a tooz coordinator; see :data:`Connect`."""
    coordinator = tooz_coordination.get_coordinator(
        backend_url, member_id, lock_timeout=str(lock_timeout))
    # NOTE(capstan): no tooz heart thread; the service's timers call
    # Coordination.heartbeat (the service owns every thread).
    coordinator.start(start_heart=False)
    return coordinator


class Coordination:
    """The singleton jobs one process holds; safe to share between threads.

    Nothing is opened before :meth:`start`. Neither :meth:`start`,
    :meth:`heartbeat` nor :meth:`hold` raises when the backend is down;
    :meth:`start` raises :class:`~capstan.common.exception.CapstanError`
    when ``backend_url`` names no usable backend (a configuration error).
    """

    def __init__(self, backend_url: str, *, host: str, lock_timeout: int,
                 connect: Connect = tooz_connect) -> None:
        self.backend_url = backend_url
        self.host = host
        self.lock_timeout = lock_timeout
        self._connect_func = connect
        self._mutex = threading.Lock()
        self._coordinator: Coordinator | None = None
        self._held: dict[str, Lock] = {}
        self._member_id = b""
        self._started = False
        self._connecting = False
        self._down_logged = False

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts, host: str) -> "Coordination":
        return cls(conf.coordination.backend_url, host=host,
                   lock_timeout=conf.coordination.lock_timeout)

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between two :meth:`heartbeat` calls, for the service."""
        # NOTE(capstan): a third of the timeout, so that a holder may miss
        # two refreshes in a row (a slow backend, a busy hub) and keep its
        # jobs; one option instead of two that must agree.
        return self.lock_timeout / 3.0

    @property
    def connected(self) -> bool:
        return self._coordinator is not None

    def held_jobs(self) -> list[str]:
        """The jobs this process holds now."""
        return sorted(self._held)

    def start(self) -> None:
        """Connect; a backend that is down is retried at each heartbeat.

        Returns once the first attempt is over, which takes about a minute
        when the backend is down (redis-py and tooz both retry); hold()
        waits for it rather than skip a job for want of a connection.
        """
        with self._mutex:
            self._started = True
            self._down_logged = False
            member_id = _member_id(self.host)
            self._install(self._open(member_id), member_id)

    def stop(self) -> None:
        """Release every job (another process may take it at once)."""
        with self._mutex:
            self._started = False
            self._disconnect()

    def heartbeat(self) -> None:
        """Refresh the locks held; reconnect if the backend was down."""
        if not self._started:
            return
        if self._coordinator is None:
            self._reconnect()
            return
        with self._mutex:
            if self._coordinator is None:
                return
            try:
                for job in list(self._held):
                    self._check_still_held(job)
                self._coordinator.heartbeat()
            except tooz.ToozError as exc:
                self._lose_backend(exc)

    def hold(self, job: str) -> bool:
        """Whether this process holds ``job`` now; take it if it is free.

        Never waits for another holder. False while the backend is down.
        """
        # NOTE(capstan): a held job is checked with the backend before each
        # run, not only at heartbeats: a holder that stalled past its lock
        # (or lost the backend) must not run a job someone else took.
        with self._mutex:
            if self._coordinator is None:
                return False
            try:
                if job in self._held and self._check_still_held(job):
                    return True
                lock = self._coordinator.get_lock(job.encode())
                if not lock.acquire(blocking=False):
                    return False
            except tooz.ToozError as exc:
                self._lose_backend(exc)
                return False
            self._held[job] = lock
            LOG.info("this process (%s) now runs job %s",
                     self._member_id.decode(), job)
            return True

    def _reconnect(self) -> None:
        # NOTE(capstan): outside the mutex: with the backend down a connect
        # takes about a minute (redis-py and tooz both retry), and hold()
        # must meanwhile answer False at once instead of stalling the
        # periodic loop that runs every other task too.
        with self._mutex:
            if self._connecting or self._coordinator is not None:
                return
            self._connecting = True
        member_id = _member_id(self.host)
        try:
            coordinator = self._open(member_id)
        finally:
            self._connecting = False
        with self._mutex:
            self._install(coordinator, member_id)

    def _open(self, member_id: bytes) -> Coordinator | None:
        try:
            coordinator = self._connect_func(self.backend_url, member_id,
                                             self.lock_timeout)
        except tooz.ToozError as exc:
            if not self._down_logged:
                LOG.warning("coordination backend %s cannot be reached "
                            "(%s); singleton periodic tasks are skipped "
                            "until it is back", _safe_url(self.backend_url),
                            exc)
                self._down_logged = True
            return None
        except (stevedore.exception.NoMatches, ImportError) as exc:
            raise exception.CapstanError(
                f"[coordination] backend_url "
                f"{_safe_url(self.backend_url)} names no usable tooz "
                f"backend: {exc}") from None
        if self._down_logged:
            LOG.info("coordination backend %s is back",
                     _safe_url(self.backend_url))
        else:
            LOG.debug("connected to coordination backend %s as %s",
                      _safe_url(self.backend_url), member_id.decode())
        self._down_logged = False
        return coordinator

    # -- under self._mutex ---------------------------------------------------

    def _install(self, coordinator: Coordinator | None,
                 member_id: bytes) -> None:
        if coordinator is None:
            return
        if not self._started or self._coordinator is not None:
            _quietly(coordinator.stop)  # stopped, or connected meanwhile
            return
        self._coordinator, self._member_id = coordinator, member_id

    def _check_still_held(self, job: str) -> bool:
        lock = self._held[job]
        try:
            still = lock.is_still_owner()
        except tooz.NotImplemented:
            still = True  # the lock lives as long as the coordinator
        if not still:
            LOG.warning("job %s was lost (its lock expired or was broken); "
                        "another process may run it now", job)
            del self._held[job]
            # NOTE(capstan): released so that tooz stops refreshing it (its
            # Redis driver would log a traceback at every heartbeat); the
            # driver logs one error here, as it cannot release what expired.
            _quietly(lock.release)
        return still

    def _lose_backend(self, exc: Exception) -> None:
        LOG.warning("coordination backend %s failed (%s); giving up jobs %s "
                    "and skipping singleton periodic tasks until it is back",
                    _safe_url(self.backend_url), exc,
                    ", ".join(sorted(self._held)) or "(none)")
        self._down_logged = True
        self._disconnect()

    def _disconnect(self) -> None:
        for lock in self._held.values():
            _quietly(lock.release)
        self._held.clear()
        if self._coordinator is not None:
            _quietly(self._coordinator.stop)
        self._coordinator = None


def _member_id(host: str) -> bytes:
    """Unique per process and connection: host, pid, and a random part."""
    return f"{host}.{os.getpid()}.{uuid.uuid4().hex[:8]}".encode()


def _quietly(func: Callable[[], Any]) -> None:
    # The backend may be gone; what is released there expires by itself.
    try:
        func()
    except tooz.ToozError as exc:
        LOG.debug("ignoring %s from %s", exc, func)


def _safe_url(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + netloc))
