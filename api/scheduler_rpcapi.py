"""The framework's casts to the applications' schedulers.

Every application that declares a ``scheduler_topic`` runs a Manager
standing on ``capstan.worker.scheduler.manager.SchedulerManagerBase``;
this client fans the host aggregates out to every scheduler of every such
topic at once.

Version history (of the framework's methods, which every scheduler serves
within its application's 1.x):

* 1.0 - ``update_aggregates`` (fanout).
"""
from __future__ import annotations

import logging
from typing import Any, Iterable

import oslo_messaging as messaging

from capstan.common import rpc

LOG = logging.getLogger(__name__)

# NOTE(capstan): the framework's methods live on the application's own
# scheduler endpoint (no namespace), so they are sent at 1.0, which any
# 1.x scheduler serves; an application that goes to 2.0 keeps serving
# them there.
RPC_API_VERSION = "1.0"


class SchedulerAPI:
    """Fanout casts to the scheduler topics of the applications."""

    def __init__(self, transport: messaging.Transport, topics: Iterable[str],
                 *, retry: int | None = None) -> None:
        self.clients = [
            rpc.get_client(transport,
                           messaging.Target(topic=topic,
                                            version=RPC_API_VERSION),
                           retry=retry).prepare(fanout=True)
            for topic in topics]

    def update_aggregates(self, context: Any,
                          aggregates: list[dict]) -> None:
        """Send every live aggregate (``Aggregate.as_dict()``) to every
        scheduler; each replaces the set it held with this one."""
        for client in self.clients:
            client.cast(context, "update_aggregates", aggregates=aggregates)
