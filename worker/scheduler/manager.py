"""SchedulerManager: collects what the volume workers report."""
from __future__ import annotations

import logging
from typing import Any

from common import context, rpc
from common.manager import Manager
from worker.volume import rpcapi as volume_rpcapi

LOG = logging.getLogger(__name__)


class SchedulerManager(Manager):
    """Keeps the latest capabilities of every host that reported."""

    RPC_API_VERSION = "1.0"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # host -> (timestamp, service_name, capabilities)
        self.host_capabilities: dict[str, tuple[float, str, dict]] = {}
        self.volume_api = volume_rpcapi.VolumeAPI(self.transport)

    def post_start_hook(self, service_id: int) -> None:
        # Ask every volume worker to report now rather than at its next
        # period, so the first placements see every host.
        self.volume_api.publish_service_capabilities(
            context.get_admin_context())

    @rpc.expose
    def update_service_capabilities(self, context: Any, service_name: str,
                                    host: str, capabilities: dict,
                                    timestamp: float) -> None:
        """Record a host's report unless a newer one is already known."""
        known = self.host_capabilities.get(host)
        if known is not None and known[0] > timestamp:
            LOG.debug("ignoring stale capabilities of %s", host)
            return
        self.host_capabilities[host] = (timestamp, service_name, capabilities)

    @rpc.expose
    def get_pools(self, context: Any) -> list[dict]:
        """Return the last capabilities of every host, sorted by host."""
        return [{"host": host, "capabilities": caps}
                for host, (_ts, _name, caps)
                in sorted(self.host_capabilities.items())]
