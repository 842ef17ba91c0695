"""SchedulerManager: the scheduler topic's RPC endpoint.

A thin facade: what the volume workers report goes to the
:class:`~capstan_volumes.scheduler.host_manager.VolumeHostManager`,
placements and re-sends to the
:class:`~capstan_volumes.scheduler.filter_scheduler.FilterScheduler`.
The framework's base keeps the host aggregates (``update_aggregates``,
their periodic reload).
"""
from __future__ import annotations

import logging
from typing import Any

from capstan.common import context as capstan_context
from capstan.common import rpc
from capstan.common.periodic import periodic_task
from capstan.worker.scheduler.manager import SchedulerManagerBase
from capstan_volumes.scheduler.filter_scheduler import FilterScheduler
from capstan_volumes.scheduler.host_manager import (VOLUME_TOPIC,
                                                    VolumeHostManager)
from capstan_volumes.scheduler.rpc_methods import METHODS
from capstan_volumes.volume import rpcapi as volume_rpcapi

LOG = logging.getLogger(__name__)

# Seconds between two looks for stuck volumes (one query): a volume whose
# scheduler crashed is re-sent within this of its scheduler's record
# reading down; a lost cast between [scheduler] resend_after and
# resend_after + this after its last change (or later, if [DEFAULT]
# periodic_interval is longer).
RESEND_SPACING = 2


class SchedulerManager(SchedulerManagerBase):
    """Places volumes on the volume hosts; see DESIGN.md, "volumes"."""

    host_manager_class = VolumeHostManager

    def __init__(self, *, volume_api: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.volume_api = volume_api or volume_rpcapi.VolumeAPI(
            self.transport, upgrade_levels=self.upgrade_levels)
        self.scheduler = FilterScheduler(
            db=self.db, host_manager=self.host_manager,
            volume_api=self.volume_api,
            max_attempts=self.conf.scheduler.max_attempts,
            resend_after=self.conf.scheduler.resend_after,
            placement=self.host_manager.placement, host=self.host,
            service_down_time=self.conf.service_down_time,
            services=self.host_manager.services)

    def post_start_hook(self, service_id: int) -> None:
        # Ask every volume worker to report now rather than at its next
        # period, so the first placements see every host.
        self.volume_api.publish_service_capabilities(
            capstan_context.get_admin_context())

    @rpc.method(METHODS["update_service_capabilities"])
    def update_service_capabilities(self, context: Any, service_name: str,
                                    host: str, capabilities: dict,
                                    timestamp: float) -> None:
        """Record a volume host's report unless a newer one is known."""
        if service_name not in (None, VOLUME_TOPIC):
            LOG.debug("ignoring capabilities of %s on %s", service_name, host)
            return
        self.host_manager.update_service_capabilities(host, capabilities,
                                                      timestamp)

    @rpc.method(METHODS["sync_volume_info"])
    def sync_volume_info(self, context: Any, host: str,
                         volume_ids: list[str], timestamp: float) -> None:
        """Record the volumes ``host`` holds unless a newer list is known."""
        self.host_manager.sync_resource_info(host, volume_ids, timestamp)

    @rpc.method(METHODS["create_volume"])
    def create_volume(self, context: Any, volume_id: str,
                      request_spec: dict) -> None:
        """Place a volume left ``creating`` without a host by the API."""
        self.scheduler.create_volume(context, volume_id, request_spec)

    @rpc.method(METHODS["get_pools"])
    def get_pools(self, context: Any) -> list[dict]:
        """``[{"host", "capabilities"}]`` of the hosts up and enabled."""
        return self.host_manager.pools(context)

    @periodic_task(spacing=RESEND_SPACING, singleton=True)
    def resend_stuck_volumes(self, context: Any) -> None:
        """Re-send volumes stuck in ``creating`` (a lost cast)."""
        self.scheduler.resend_stuck_volumes(context)
