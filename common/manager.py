"""Managers: the logic a Service exposes over RPC.

A Manager is an RPC endpoint (its ``@rpc.method`` methods) and a
:class:`~common.periodic.PeriodicTasks`. The Service that wraps it calls the
hooks in this order: ``init_host`` (before anything is consumed),
``pre_start_hook``, RPC server start, ``post_start_hook``; then periodic
tasks run until the service stops. Managers never spawn green threads or
sleep: the Service owns every thread.

The RPC version a Manager serves is derived from the versions its
``@rpc.method`` decorators record (``RPC_API_VERSION``, read-only); the
Service writes it into its record so that clients cap what they send
while older services still run (``capstan.common.upgrade_levels``).
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from capstan.common import rpc, rpc_methods, rpc_versions
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan.common.periodic import PeriodicTasks, periodic_task
from capstan.common.upgrade_levels import UpgradeLevels

LOG = logging.getLogger(__name__)


class _ServedVersion:
    """``RPC_API_VERSION``: derived from the class's RPC methods, read-only
    on instances, computed once per class."""

    def __get__(self, instance: Any, owner: type) -> str:
        return _served_version(owner)

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError("RPC_API_VERSION is derived from the "
                             "@rpc.method decorators")


@functools.lru_cache(maxsize=None)
def _served_version(cls: type) -> str:
    return rpc_versions.served_version(cls)


class Manager(PeriodicTasks):
    """Base of every manager; override the hooks you need.

    ``upgrade_levels`` caps the RPC clients this manager builds; by
    default one over its own conf and service records.
    """

    RPC_API_VERSION = _ServedVersion()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "RPC_API_VERSION" in vars(cls):
            raise TypeError(f"{cls.__name__} sets RPC_API_VERSION by hand; "
                            "it is derived from its @rpc.method versions")
        # Fails at class definition when the methods span two majors.
        rpc_versions.served_version(cls)

    def __init__(self, *, conf: cfg.ConfigOpts, host: str, db: Database,
                 transport: messaging.Transport,
                 service_name: str | None = None,
                 upgrade_levels: UpgradeLevels | None = None) -> None:
        self.conf = conf
        self.host = host
        self.db = db
        self.transport = transport
        self.service_name = service_name
        self.upgrade_levels = upgrade_levels or UpgradeLevels(
            conf, Services(db))
        self.init_periodic_tasks(
            run_external=conf.run_external_periodic_tasks)

    @property
    def target(self) -> messaging.Target:
        """The RPC version this manager serves (read by oslo.messaging)."""
        return messaging.Target(version=self.RPC_API_VERSION)

    def init_host(self, service_id: int) -> None:
        """Set up this host; runs before the service consumes any message."""

    def pre_start_hook(self, service_id: int) -> None:
        """Run just before the RPC server starts consuming."""

    def post_start_hook(self, service_id: int) -> None:
        """Run once RPC is up (work that needs to send RPC goes here)."""

    def is_ready(self) -> bool:
        """Whether the backend is ready; False keeps heartbeats, logs why."""
        return True

    def reset(self) -> None:
        """Re-read what depends on mutable config (SIGHUP)."""

    def periodic_tasks(self, context: Any,
                       raise_on_error: bool = False) -> float:
        """Run due periodic tasks; return seconds until the next is due."""
        return self.run_periodic_tasks(context, raise_on_error=raise_on_error)


class SchedulerDependentManager(Manager):
    """A Manager whose capabilities the scheduler needs to see.

    Call :meth:`update_service_capabilities` with a dict; a periodic task
    sends the last one to every scheduler (fanout). Nothing is sent until
    there is something to send. The scheduler's client is ``scheduler_api``
    when given, else ``scheduler_api_class(transport)``: a subclass names
    the rpcapi class of its scheduler (anything built as
    ``cls(transport, upgrade_levels=...)`` with an
    ``update_service_capabilities(context, service_name, host,
    capabilities, timestamp)`` method).
    """

    scheduler_api_class: Any = None

    def __init__(self, *, scheduler_api: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.last_capabilities: dict | None = None
        if scheduler_api is None:
            if self.scheduler_api_class is None:
                raise TypeError(f"{type(self).__name__} names no "
                                "scheduler_api_class")
            scheduler_api = self.scheduler_api_class(
                self.transport, upgrade_levels=self.upgrade_levels)
        self.scheduler_api = scheduler_api

    def update_service_capabilities(self, capabilities: dict | None) -> None:
        """Remember ``capabilities`` for the next periodic report."""
        self.last_capabilities = capabilities

    @rpc.method(rpc_methods.DEPENDENT["publish_service_capabilities"])
    @periodic_task(spacing=10, run_immediately=True)
    def publish_service_capabilities(self, context: Any) -> None:
        """Send the last capabilities to the schedulers (also over RPC).

        The scheduler calls this by fanout when it starts, so it need not
        wait a whole period to learn about every host.
        """
        # Stamped before the state is read, so the scheduler keeps any
        # placement made while the report is gathered (see HostState).
        timestamp = time.time()
        self._refresh_capabilities(context)
        if self.last_capabilities is None:
            return
        self.scheduler_api.update_service_capabilities(
            context, service_name=self.service_name, host=self.host,
            capabilities=self.last_capabilities, timestamp=timestamp)

    def _refresh_capabilities(self, context: Any) -> None:
        """Hook: gather fresh capabilities before they are sent."""
