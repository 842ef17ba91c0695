"""SchedulerManagerBase: what every application's scheduler Manager shares.

An application's scheduler Manager subclasses it, names its HostManager
subclass in ``host_manager_class`` and declares its topic as the
``scheduler_topic`` of its :class:`~capstan.common.application.Application`.
The base keeps the host aggregates of its HostManager current:

* read from the database before the service consumes (``init_host``);
* replaced by each ``update_aggregates`` fanout the API sends after a
  change (``capstan.api.scheduler_rpcapi``);
* read again every :data:`AGGREGATES_SPACING` seconds, so that a fanout
  lost to a broker error is only late.
"""
from __future__ import annotations

import logging
from typing import Any

from capstan.common import rpc, rpc_methods
from capstan.common.db.aggregates import Aggregates
from capstan.common.manager import Manager
from capstan.common.periodic import periodic_task
from capstan.worker.scheduler.host_manager import HostManager

LOG = logging.getLogger(__name__)

# Seconds between two reads of the aggregates (one query each, per
# scheduler): how late a lost fanout can make a change (or later, if
# [DEFAULT] periodic_interval is longer).
AGGREGATES_SPACING = 60


class SchedulerManagerBase(Manager):
    """A scheduler Manager holding ``self.host_manager`` and its aggregates.

    ``host_manager`` defaults to ``host_manager_class.from_conf(conf,
    db)``; ``aggregates`` (the queries) to ``Aggregates(db)``. Nothing is
    read at construction.
    """

    host_manager_class: type[HostManager] = HostManager

    def __init__(self, *, host_manager: HostManager | None = None,
                 aggregates: Aggregates | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host_manager = host_manager or \
            self.host_manager_class.from_conf(self.conf, self.db)
        self.aggregates = aggregates if aggregates is not None else \
            Aggregates(self.db)
        # Bumped by every update applied: a periodic read that a fanout
        # overtook is older than it, and is dropped.
        self._aggregates_generation = 0

    def init_host(self, service_id: int) -> None:
        """Read the aggregates before the first placement."""
        super().init_host(service_id)
        self._load_aggregates()

    @rpc.method(rpc_methods.SCHEDULER["update_aggregates"])
    def update_aggregates(self, context: Any, aggregates: list[dict]) -> None:
        """Take every aggregate, as the API sends them after a change."""
        self.host_manager.update_aggregates(aggregates)
        self._aggregates_generation += 1
        LOG.debug("%d aggregates received", len(aggregates))

    @periodic_task(spacing=AGGREGATES_SPACING)
    def reload_aggregates(self, context: Any) -> None:
        """Read the aggregates again (heals a lost fanout)."""
        self._load_aggregates()

    def _load_aggregates(self) -> None:
        generation = self._aggregates_generation
        aggregates = self.aggregates.get_all()
        if generation != self._aggregates_generation:
            # NOTE(capstan): a fanout arrived during the read (another
            # green thread): the API read it after its change committed,
            # about when this read ran; it is kept rather than overwritten.
            LOG.debug("aggregates read dropped: a fanout overtook it")
            return
        self.host_manager.update_aggregates(aggregates)
        self._aggregates_generation += 1
