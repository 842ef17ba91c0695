"""Run services in this process or in forked worker processes.

:class:`ServiceLauncher` drives one or several services in the current
process; :class:`ProcessLauncher` forks workers that each build their service
after the fork and run it under a ServiceLauncher. Both answer signals alike::

    SIGTERM, SIGINT   graceful stop, bounded by graceful_shutdown_timeout
    SIGINT again      immediate stop, while a graceful stop is in progress
    SIGHUP            reload_config(), then reset() every service

A service is any object with ``start()``, ``stop(graceful=True)``, ``wait()``
and ``reset()``; the launchers only drive it.

Signal handlers only queue the signal number (:mod:`capstan.common.signals`).
The loop inside ``wait()`` picks it up on its next poll and does the work in
an ordinary greenthread, where switching, logging and taking locks are safe.
"""
from __future__ import annotations

import gc
import logging
import math
import os
import signal
import sys
import time
import warnings
from typing import Any, Callable, NoReturn

import eventlet
import eventlet.hubs

from capstan.common.exception import CapstanError
from capstan.common.signals import (STOP_SIGNALS, SignalQueue,
                                    reset_child_signals, signal_name)

LOG = logging.getLogger(__name__)

_POLL_INTERVAL = 0.1
_PARENT_CHECK_INTERVAL = 0.5
# NOTE(capstan): a worker needs a moment past its own graceful timeout to
# exit; after that the parent stops waiting and SIGKILLs it.
_KILL_GRACE = 2.0
# A worker dying sooner than this after its start is respawned with a
# doubling delay, up to the maximum.
_QUICK_EXIT = 10.0
_MAX_BACKOFF = 60.0


def _call_logged(func: Callable[..., Any], **kwargs: Any) -> bool:
    """Call func; log and swallow its exception. Return True on success."""
    try:
        func(**kwargs)
    except Exception:
        LOG.exception("%r failed", func)
        return False
    return True


class _Running:
    """A started service, with greenthreads for its wait() and its stop()."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.failed = False
        self._stopper: eventlet.greenthread.GreenThread | None = None
        self._waiter = eventlet.spawn(self._wait)

    @property
    def exited(self) -> bool:
        return self._waiter.dead

    @property
    def stopped(self) -> bool:
        stop_done = self._stopper is None or self._stopper.dead
        return self.exited and stop_done

    def begin_stop(self, graceful: bool) -> None:
        # NOTE(capstan): stop() may itself drain in-flight work; running it
        # in its own greenthread keeps the timeout and a second SIGINT
        # effective while it does.
        self._stopper = eventlet.spawn(self._stop, graceful)

    def _wait(self) -> None:
        try:
            # A wait() that returns False says the stop gave up on work in
            # flight (graceful_shutdown_timeout): not a clean exit.
            if self.service.wait() is False:
                self.failed = True
        except Exception:
            self.failed = True
            LOG.exception("service %s failed", self.service)

    def _stop(self, graceful: bool) -> None:
        if not _call_logged(self.service.stop, graceful=graceful):
            self.failed = True


class _Launcher:
    """What both launchers share: wait(), stop(), the loop and the shutdown.

    The loop inside wait() handles the signals (see the module docstring).
    The shutdown asks everything run to stop, then waits, bounded by
    graceful_shutdown_timeout plus a grace; a second SIGINT escalates. A
    subclass says what it runs through these hooks:

    * ``_poll() -> bool``: between signals; False to shut down;
    * ``_reset()``: pass a SIGHUP on, once the configuration is reloaded;
    * ``_begin_stop()``: ask for a graceful stop, without waiting;
    * ``_exit_status() -> int | None``: None while anything runs, then 0/1;
    * ``_stop_now()`` (a second SIGINT) and ``_give_up()`` (past the
      deadline) ``-> int | None``: escalate, then return the status to end
      with, or None to keep waiting (after a second SIGINT, for the grace).
    """

    # How the log lines name what the launcher runs.
    _members = "services"

    def __init__(self, graceful_shutdown_timeout: float,
                 reload_config: Callable[[], None] | None) -> None:
        self._timeout = graceful_shutdown_timeout
        self._reload_config = reload_config
        self._signals = SignalQueue()
        self._status: int | None = None

    def wait(self) -> int:
        """Run until stopped; the exit status (0 after a clean stop).

        A launcher runs once: after it has stopped, wait() returns the
        same status.
        """
        if self._status is not None:
            return self._status
        self._signals.install()
        try:
            return self._loop()
        finally:
            self._signals.restore()

    def stop(self) -> None:
        """Stop gracefully: via wait() if it is running, here otherwise."""
        if self._signals.installed:
            self._signals.push(signal.SIGTERM)
        else:
            self._shutdown()

    def _loop(self) -> int:
        while True:
            signo = self._signals.pop()
            if signo in STOP_SIGNALS:
                LOG.info("caught %s, stopping %s gracefully",
                         signal_name(signo), self._members)
                return self._shutdown()
            if signo == signal.SIGHUP:
                self._reload()
                continue
            if not self._poll():
                return self._shutdown()
            eventlet.sleep(_POLL_INTERVAL)

    def _reload(self) -> None:
        LOG.info("caught SIGHUP, reloading configuration and resetting %s",
                 self._members)
        if self._reload_config is not None:
            _call_logged(self._reload_config)
        self._reset()

    def _shutdown(self) -> int:
        # What runs drains within the timeout itself; the grace lets it
        # mark its records stopped before we give up on it.
        deadline = time.monotonic() + self._timeout + _KILL_GRACE
        self._begin_stop()
        self._status = self._await_stopped(deadline)
        return self._status

    def _await_stopped(self, deadline: float) -> int:
        while (status := self._exit_status()) is None:
            signo = self._signals.pop()
            if signo == signal.SIGINT:
                LOG.warning("caught SIGINT again, stopping %s immediately",
                            self._members)
                status = self._stop_now()
                if status is not None:
                    return status
                deadline = min(deadline, time.monotonic() + _KILL_GRACE)
            elif signo is not None:
                LOG.info("already stopping, ignoring %s", signal_name(signo))
            if time.monotonic() >= deadline:
                status = self._give_up()
                if status is not None:
                    return status
                deadline = math.inf
            eventlet.sleep(_POLL_INTERVAL)
        return status


class ServiceLauncher(_Launcher):
    """Run one or several services in this process until a signal stops them.

    wait() returns 0 after a clean graceful stop, else 1.
    """

    def __init__(self, graceful_shutdown_timeout: float,
                 reload_config: Callable[[], None] | None = None) -> None:
        super().__init__(graceful_shutdown_timeout, reload_config)
        self._running: list[_Running] = []

    def launch_service(self, service: Any) -> None:
        """Start service now; exceptions from start() reach the caller."""
        service.start()
        self._running.append(_Running(service))
        # NOTE(capstan): what start-up built (modules, the paste app, the
        # config, the RPC server) lives as long as the process; moved out
        # of the collected generations, a full collection no longer walks
        # it again and again. Collections triggered by a big response (a
        # GET /v1/services of 10,000 records allocates ~100,000 objects)
        # were ~25% of that request's CPU (docs/benchmarks.md, benchmark 5).
        gc.freeze()

    def _poll(self) -> bool:
        exited = [r.service for r in self._running if r.exited]
        if exited:
            LOG.warning("%s exited on its own, stopping the others", exited)
        return not exited

    def _reset(self) -> None:
        for running in self._running:
            _call_logged(running.service.reset)

    def _begin_stop(self) -> None:
        for running in self._running:
            running.begin_stop(graceful=True)

    def _exit_status(self) -> int | None:
        if not all(r.stopped for r in self._running):
            return None
        return 1 if any(r.failed for r in self._running) else 0

    def _stop_now(self) -> int:
        for running in self._running:
            _call_logged(running.service.stop, graceful=False)
        return 1

    def _give_up(self) -> int:
        left = [r.service for r in self._running if not r.stopped]
        LOG.warning("%s still running after graceful_shutdown_timeout"
                    " (%s s), giving up on them", left, self._timeout)
        return 1


class _Slot:
    """One worker position: its factory and the pid currently filling it."""

    def __init__(self, factory: Callable[[], Any], throttle: float) -> None:
        self.factory = factory
        self.pid: int | None = None
        self.forked_at = -math.inf
        self.throttle = throttle
        self.delay = throttle

    def respawn_due(self, now: float) -> bool:
        """Whether an empty slot may fork again."""
        return self.pid is None and now - self.forked_at >= self.delay

    def exited(self, now: float) -> None:
        """Back off while the worker keeps dying soon after its start.

        A worker that cannot start (database down, schema not synced) would
        otherwise be forked again every throttle seconds for ever.
        """
        self.pid = None
        if now - self.forked_at < _QUICK_EXIT:
            self.delay = min(max(self.delay * 2, self.throttle), _MAX_BACKOFF)
        else:
            self.delay = self.throttle


class ProcessLauncher(_Launcher):
    """Fork workers, keep them running, and pass signals on to them.

    wait() returns 0 if every worker exited with 0, else 1.
    """

    _members = "workers"

    def __init__(self, graceful_shutdown_timeout: float,
                 reload_config: Callable[[], None] | None = None,
                 respawn_throttle: float = 1.0) -> None:
        super().__init__(graceful_shutdown_timeout, reload_config)
        self._throttle = respawn_throttle
        self._slots: list[_Slot] = []
        self._stopping = False
        self._exit_failed = False

    def launch_service(self, factory: Callable[[], Any], workers: int) -> None:
        """Fork workers now; each calls factory() after the fork."""
        if workers < 1:
            raise ValueError("workers must be at least 1, not %r" % workers)
        for _ in range(workers):
            slot = _Slot(factory, self._throttle)
            self._slots.append(slot)
            self._fork(slot)

    def _poll(self) -> bool:
        self._reap()
        self._respawn()
        return True

    def _reset(self) -> None:
        # The workers reload configuration themselves (see _run_child).
        self._send(signal.SIGHUP)

    def _begin_stop(self) -> None:
        self._stopping = True
        self._send(signal.SIGTERM)

    def _exit_status(self) -> int | None:
        if any(code != 0 for code in self._reap()):
            self._exit_failed = True
        if any(slot.pid is not None for slot in self._slots):
            return None
        return 1 if self._exit_failed else 0

    def _stop_now(self) -> None:
        # Each worker's own launcher stops at once on its second SIGINT.
        self._send(signal.SIGINT)

    def _give_up(self) -> None:
        pids = [slot.pid for slot in self._slots if slot.pid is not None]
        LOG.warning("workers %s still running after graceful_shutdown_timeout"
                    " (%s s), killing them", pids, self._timeout)
        self._send(signal.SIGKILL)

    def _respawn(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.respawn_due(now):
                self._fork(slot)

    def _reap(self) -> list[int]:
        """Collect exited workers; return their exit codes."""
        codes = []
        for slot in self._slots:
            code = None if slot.pid is None else _poll_exit(slot.pid)
            if code is None:
                continue
            pid = slot.pid
            slot.exited(time.monotonic())
            if self._stopping:
                LOG.info("worker %d exited with status %d", pid, code)
            else:
                LOG.warning("worker %d exited with status %d; respawning in "
                            "%.1f s", pid, code, slot.delay)
            codes.append(code)
        return codes

    def _send(self, signo: int) -> None:
        for slot in self._slots:
            if slot.pid is None:
                continue
            try:
                os.kill(slot.pid, signo)
            except ProcessLookupError:
                pass  # it has exited; the next _reap() collects it

    def _fork(self, slot: _Slot) -> None:
        parent_pid = os.getpid()
        with warnings.catch_warnings():
            # eventlet warns on every fork. Forking before anything is
            # opened, then using a fresh hub, is the case that works.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            self._run_child(slot.factory, parent_pid)
        slot.pid, slot.forked_at = pid, time.monotonic()
        LOG.info("started worker %d", pid)

    def _run_child(self, factory: Callable[[], Any],
                   parent_pid: int) -> NoReturn:
        status = 1
        try:
            reset_child_signals()
            # NOTE(capstan): a fresh hub, or the worker would share the
            # parent's epoll instance and receive or corrupt its events.
            eventlet.hubs.use_hub()
            eventlet.spawn_n(_exit_with_parent, parent_pid,
                             self._timeout + _KILL_GRACE)
            # The worker reloads configuration itself on SIGHUP: the parent's
            # reload happens after the fork, in the parent's memory only.
            launcher = ServiceLauncher(self._timeout, self._reload_config)
            launcher.launch_service(factory())
            status = launcher.wait()
        except CapstanError as exc:
            # An expected failure (a backend away at start): one line.
            LOG.error("worker %d cannot start: %s", os.getpid(), exc)
        except BaseException:
            LOG.exception("worker %d failed", os.getpid())
        finally:
            # Never fall back into the parent's code (or a test runner).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)


def _poll_exit(pid: int) -> int | None:
    """Exit code of child pid (-N if killed by signal N), None if running."""
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return 1  # reaped by someone else; its status is lost
    if reaped == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _exit_with_parent(parent_pid: int, grace: float) -> None:
    """Stop this worker once its parent is gone, so no orphan stays behind."""
    while os.getppid() == parent_pid:
        eventlet.sleep(_PARENT_CHECK_INTERVAL)
    LOG.warning("parent %d died, worker %d stopping", parent_pid, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)
    eventlet.sleep(grace)
    LOG.error("worker %d still running %s s after its parent died, exiting",
              os.getpid(), grace)
    os._exit(1)
