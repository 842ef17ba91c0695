"""Services: what a launcher runs.

:class:`BaseService` is the life cycle every service shares: its record,
the heartbeat and periodic tasks (:class:`ServiceTimers`), the
coordination of its singleton periodic tasks, the manager's hooks,
start/stop/wait/reset/kill and the graceful stop. Two kinds build on it
and supply only how they serve:

* :class:`Service` serves a Manager over RPC on
  ``Target(topic, server=host)``;
* :class:`capstan.common.wsgi_service.WSGIService` serves a paste app over
  HTTP.

This module owns every green thread a service has; managers and drivers
never spawn.
"""
from __future__ import annotations

import logging
import os
import random
import sys
import time
from typing import Any, Callable

import eventlet
import greenlet
import oslo_messaging as messaging
from eventlet import event, greenthread
from oslo_config import cfg

from capstan.common import context as capstan_context
from capstan.common import config, exception, plugins, rpc
from capstan.common.coordination import Coordination
from capstan.common.db import migration
from capstan.common.db.api import Database
from capstan.common.periodic import PeriodicTasks
from capstan.common.records import ServiceRecord

LOG = logging.getLogger(__name__)


class ServiceTimers:
    """The heartbeat, the periodic-task loop and the coordination heartbeat
    (when there is a ``coordination``) of one service."""

    def __init__(self, record: ServiceRecord, *, report_interval: float,
                 periodic_interval: float, periodic_fuzzy_delay: float,
                 periodic_owner: Any = None,
                 coordination: Coordination | None = None,
                 sleep: Callable[[float], None] = eventlet.sleep) -> None:
        self.record = record
        self.report_interval = report_interval
        self.periodic_interval = periodic_interval
        self.periodic_fuzzy_delay = periodic_fuzzy_delay
        self.periodic_owner = periodic_owner
        self.coordination = coordination
        self._sleep = sleep
        self._threads: list[greenthread.GreenThread] = []
        self._periodic_busy = False

    def start(self) -> None:
        self._threads.append(eventlet.spawn(self._heartbeat_loop))
        if self.periodic_owner is not None:
            self._threads.append(eventlet.spawn(self._periodic_loop))
        if self.coordination is not None:
            self._threads.append(eventlet.spawn(self._coordination_loop))

    def stop(self, timeout: float | None = None) -> None:
        """Stop both loops, letting a periodic run in progress finish."""
        if self._periodic_busy and timeout:
            with eventlet.Timeout(timeout, False):
                while self._periodic_busy:
                    self._sleep(0.05)
        for thread in self._threads:
            thread.kill()
        self._threads = []

    def _heartbeat_loop(self) -> None:
        while True:
            self._sleep(self.report_interval)
            try:
                self.record.heartbeat()
            except Exception:
                # heartbeat() already survives database outages; anything
                # else is a bug, which must not silence the service for good.
                LOG.exception("heartbeat of %s/%s failed", self.record.host,
                              self.record.topic)

    def _coordination_loop(self) -> None:
        # Keeps the singleton jobs' locks alive (or reconnects); apart from
        # the periodic loop, so that a long task does not let them expire.
        while True:
            self._sleep(self.coordination.heartbeat_interval)
            try:
                self.coordination.heartbeat()
            except Exception:
                # heartbeat() already survives backend outages.
                LOG.exception("coordination heartbeat of %s/%s failed",
                              self.record.host, self.record.topic)

    def _periodic_loop(self) -> None:
        if self.periodic_fuzzy_delay:
            # Spread services started together over the delay, so that they
            # do not all run their tasks (and hit the DB) at the same moment.
            self._sleep(random.uniform(0, self.periodic_fuzzy_delay))
        while True:
            self._periodic_busy = True
            try:
                idle = self._run_periodic_once()
            finally:
                self._periodic_busy = False
            self._sleep(min(idle, self.periodic_interval))

    def _run_periodic_once(self) -> float:
        context = capstan_context.get_admin_context()
        try:
            return self.periodic_owner.periodic_tasks(context)
        except Exception:
            # periodic_tasks already isolates each task; this is a bug in
            # the loop itself, which must not end the service's schedule.
            LOG.exception("periodic task loop of %s failed",
                          type(self.periodic_owner).__name__)
            return self.periodic_interval


class BaseService:
    """The life cycle every service shares; a subclass says how it serves.

    A service keeps its record in ``services`` alive, runs its manager's
    hooks and periodic tasks, and serves in between. A launcher drives it::

        start()   check the schema, register the record, init_host,
                  pre_start_hook, serve, post_start_hook, start the timers
        stop()    stop serving (draining within graceful_shutdown_timeout),
                  stop the timers, mark the record stopped
        wait()    block until stopped; False if the stop gave up on work
        reset()   reset what serves, then the manager (SIGHUP)
        kill()    stop at once and delete the record

    A stopped service may be started again. A subclass implements
    :meth:`_start_serving`, :meth:`_stop_serving` and :meth:`_serving_on`,
    and may override :meth:`_cut_stop_short` and :meth:`_reset_serving`.
    ``manager`` may be None: the hooks and periodic tasks are then skipped.
    A manager with singleton periodic tasks gets a :class:`Coordination`
    (``[coordination]``), connected from start() to stop(); without such
    tasks ``coordination`` is None and no backend is ever contacted.
    """

    def __init__(self, *, conf: cfg.ConfigOpts, db: Database, manager: Any,
                 host: str, binary: str, topic: str, report_interval: float,
                 periodic_interval: float, periodic_fuzzy_delay: float,
                 rpc_version: str | None = None) -> None:
        self.conf = conf
        self.db = db
        self.manager = manager
        self.record = ServiceRecord(db, host=host, binary=binary, topic=topic,
                                    rpc_version=rpc_version)
        self.coordination = _coordination_for(conf, manager, host)
        self.timers = ServiceTimers(
            self.record, report_interval=report_interval,
            periodic_interval=periodic_interval,
            periodic_fuzzy_delay=periodic_fuzzy_delay,
            periodic_owner=manager, coordination=self.coordination)
        self._done: event.Event | None = None  # None: never started
        self._stopping = False

    @property
    def service_id(self) -> int | None:
        return self.record.service_id

    @property
    def stopping(self) -> bool:
        """True from the start of stop() until the next start()."""
        return self._stopping

    def start(self) -> None:
        """Register, set up the host, then serve; see the class docstring.

        Does nothing while the service runs.
        """
        if self._done is not None and not self._done.ready():
            return
        record = self.record
        LOG.info("starting %s on %s (topic %s)", record.binary, record.host,
                 record.topic)
        migration.check_schema(self.db)
        service_id = record.register()
        record.cleanup_stale(self.conf.service_down_time)
        if self.manager is not None:
            self.manager.init_host(service_id)
            self.manager.pre_start_hook(service_id)
        self._done, self._stopping = event.Event(), False
        self._start_serving()
        if self.manager is not None:
            self.manager.post_start_hook(service_id)
        self.timers.start()
        if self.coordination is not None:
            # After the timers: the record keeps its heartbeat while a
            # backend that is down makes the first attempt slow.
            self.coordination.start()
        if self.manager is not None and not self.manager.is_ready():
            LOG.warning("%s is not ready yet", type(self.manager).__name__)
        # NOTE(capstan): tests and operators wait for this line to know
        # the service is up; keep its wording.
        LOG.info("%s started, %s", record.binary, self._serving_on())

    def stop(self, graceful: bool = True) -> None:
        """Stop serving; with ``graceful``, let work in flight finish.

        Work still running after ``[DEFAULT] graceful_shutdown_timeout`` is
        given up on. A non-graceful stop while a graceful one waits (a
        second SIGINT) cuts that wait short. Does nothing unless running.
        """
        if self._done is None or self._done.ready():
            return
        if self._stopping:
            if not graceful:
                self._cut_stop_short()
            return
        self._stopping = True
        # One budget for the whole drain, so that the record is marked
        # stopped within graceful_shutdown_timeout, not twice that.
        timeout = self.conf.graceful_shutdown_timeout if graceful else 0
        deadline = time.monotonic() + timeout
        clean = self._stop_serving(graceful, timeout)
        self.timers.stop(max(0.0, deadline - time.monotonic()))
        if self.coordination is not None:
            # Released now, so another process takes the jobs at once.
            self.coordination.stop()
        self.record.mark_stopped()
        LOG.info("%s (topic %s) on %s stopped", self.record.binary,
                 self.record.topic, self.record.host)
        self._done.send(clean)

    def wait(self) -> bool:
        """Block until stopped; False if the stop gave up on work in flight.

        Returns True at once if the service was never started.
        """
        if self._done is None:
            return True
        return self._done.wait()

    def kill(self) -> None:
        """Stop at once and delete the service record."""
        self.stop(graceful=False)
        self.record.destroy()

    def reset(self) -> None:
        """Reset what serves, then let the manager re-read config (SIGHUP)."""
        self._reset_serving()
        if self.manager is not None:
            self.manager.reset()

    # -- what each kind of service supplies ----------------------------------

    def _start_serving(self) -> None:
        """Begin serving (consume RPC, accept connections)."""
        raise NotImplementedError

    def _stop_serving(self, graceful: bool, timeout: float) -> bool:
        """Stop serving within timeout; return whether all work finished."""
        raise NotImplementedError

    def _serving_on(self) -> str:
        """What the service serves, for the "started" log line."""
        raise NotImplementedError

    def _cut_stop_short(self) -> None:
        """Give up at once on the work a graceful stop is waiting for."""

    def _reset_serving(self) -> None:
        """Restore what serves to its configured state (SIGHUP)."""


class Service(BaseService):
    """An RPC service on one host and topic, wrapping a Manager."""

    def __init__(self, *, conf: cfg.ConfigOpts, db: Database,
                 transport: messaging.Transport, host: str, binary: str,
                 topic: str, manager: Any, report_interval: float,
                 periodic_interval: float, periodic_fuzzy_delay: float,
                 service_name: str | None = None) -> None:
        # What the manager serves goes into the record, which caps the
        # topic's clients during a rolling upgrade.
        super().__init__(conf=conf, db=db, manager=manager, host=host,
                         binary=binary, topic=topic,
                         report_interval=report_interval,
                         periodic_interval=periodic_interval,
                         periodic_fuzzy_delay=periodic_fuzzy_delay,
                         rpc_version=getattr(manager, "RPC_API_VERSION",
                                             None))
        self.transport = transport
        self.host = host
        self.binary = binary
        self.topic = topic
        self.service_name = service_name or topic
        self._rpc_server: messaging.RPCServer | None = None
        self._drain: greenthread.GreenThread | None = None

    @classmethod
    def create(cls, conf: cfg.ConfigOpts, db: Database,
               transport: messaging.Transport, *, topic: str,
               host: str | None = None, binary: str | None = None,
               manager: str | type | None = None,
               report_interval: float | None = None,
               periodic_interval: float | None = None,
               periodic_fuzzy_delay: float | None = None,
               service_name: str | None = None) -> "Service":
        """Build a Service, filling every unset argument from ``conf``.

        ``manager`` is a Manager class or its dotted path; by default
        ``[DEFAULT] <topic>_manager``. Nothing is opened here.
        """
        host = host or conf.host
        manager_cls = load_manager(
            manager or config.manager_path_for_topic(conf, topic))
        return cls(
            conf=conf, db=db, transport=transport, host=host,
            binary=binary or os.path.basename(sys.argv[0]) or "worker",
            topic=topic,
            manager=manager_cls(conf=conf, host=host, db=db,
                                transport=transport,
                                service_name=service_name or topic),
            report_interval=_pick(report_interval, conf.report_interval),
            periodic_interval=_pick(periodic_interval,
                                    conf.periodic_interval),
            periodic_fuzzy_delay=_pick(periodic_fuzzy_delay,
                                       conf.periodic_fuzzy_delay),
            service_name=service_name)

    def __repr__(self) -> str:
        return f"<Service {self.binary} {self.topic}@{self.host}>"

    def _start_serving(self) -> None:
        target = messaging.Target(topic=self.topic, server=self.host)
        self._rpc_server = rpc.get_server(self.transport, target,
                                          [self.manager])
        self._rpc_server.start()

    def _serving_on(self) -> str:
        return f"consuming {self.topic}.{self.host}"

    def _stop_serving(self, graceful: bool, timeout: float) -> bool:
        """Stop consuming; return whether every call in flight finished."""
        if self._rpc_server is None:
            return True  # start() failed before the server existed
        self._rpc_server.stop()
        if not timeout:
            return False
        # oslo.messaging's wait() has no timeout of its own; run it aside
        # and give up on calls that outlive graceful_shutdown_timeout.
        self._drain = eventlet.spawn(self._rpc_server.wait)
        try:
            with eventlet.Timeout(timeout, False):
                self._drain.wait()
                return True
            LOG.warning("RPC calls still running after %ss; stopping "
                        "anyway", timeout)
        except greenlet.GreenletExit:
            LOG.warning("immediate stop requested; not waiting for RPC "
                        "calls in flight")
        finally:
            self._drain = None
        return False

    def _cut_stop_short(self) -> None:
        if self._drain is not None:
            self._drain.kill()


def load_manager(path: str | type) -> type:
    """Import a manager class by dotted path; ManagerNotFound otherwise."""
    if isinstance(path, type):
        return path
    try:
        return plugins.import_class(path)
    except ImportError as exc:
        raise exception.ManagerNotFound(name=path, reason=str(exc)) from None


def _coordination_for(conf: cfg.ConfigOpts, manager: Any,
                      host: str) -> Coordination | None:
    """A Coordination for a manager with singleton tasks, else None."""
    if not isinstance(manager, PeriodicTasks):
        return None
    if not manager.singleton_task_names():
        return None
    coordination = Coordination.from_conf(conf, host)
    manager.use_coordination(coordination.hold)
    return coordination


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value
