"""The framework's casts to the applications' schedulers.

Every application that declares a ``scheduler_topic`` runs a Manager
standing on ``capstan.worker.scheduler.manager.SchedulerManagerBase``;
this client fans the host aggregates out to every scheduler of every such
topic at once.

Version history: see :mod:`capstan.common.rpc_methods` (the framework's
methods, which every scheduler serves within its application's 1.x).
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import oslo_messaging as messaging

from capstan.common import rpc_methods
from capstan.common.rpcapi import RPCAPI
from capstan.common.upgrade_levels import UpgradeLevels

LOG = logging.getLogger(__name__)


class SchedulerAPI:
    """Fanout casts to the scheduler topics of the applications, each
    capped by ``[upgrade_levels] <topic>``."""

    def __init__(self, transport: messaging.Transport, topics: Iterable[str],
                 *, retry: int | None = None,
                 upgrade_levels: UpgradeLevels | None = None) -> None:
        # NOTE(capstan): the framework's methods live on the application's
        # own scheduler endpoint (no namespace), so the client knows only
        # them: it sends them at their own versions, which any scheduler
        # of that major serves.
        self.clients = [
            RPCAPI(transport, topic, rpc_methods.SCHEDULER,
                   upgrade_levels=upgrade_levels, retry=retry)
            for topic in topics]

    def update_aggregates(self, context: Any,
                          aggregates: list[dict]) -> None:
        """Send every live aggregate (``Aggregate.as_dict()``) to every
        scheduler; each replaces the set it held with this one."""
        for client in self.clients:
            client.cast(context, "update_aggregates", fanout=True,
                        aggregates=aggregates)
