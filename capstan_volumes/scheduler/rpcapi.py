"""Client side of the scheduler RPC API.

Version history:

* 1.0 - ``update_service_capabilities`` (fanout), ``get_pools`` (call),
  ``create_volume`` (cast), ``sync_volume_info`` (fanout).

The SchedulerManager also serves the framework's ``update_aggregates``
(fanout, sent at 1.0 by the API: ``capstan.api.scheduler_rpcapi``).
"""
from __future__ import annotations

import time
from typing import Any

import oslo_messaging as messaging

from capstan.common import rpc

TOPIC = "scheduler"
RPC_API_VERSION = "1.0"


class SchedulerAPI:
    """Casts and calls to the scheduler topic."""

    def __init__(self, transport: messaging.Transport, *,
                 retry: int | None = None,
                 timeout: float | None = None) -> None:
        target = messaging.Target(topic=TOPIC, version=RPC_API_VERSION)
        self.client = rpc.get_client(transport, target,
                                     version_cap=RPC_API_VERSION,
                                     retry=retry, timeout=timeout)

    def update_service_capabilities(self, context: Any, *, service_name: str,
                                    host: str, capabilities: dict,
                                    timestamp: float | None = None) -> None:
        # The sender's wall clock (when it read its state) lets the
        # scheduler drop reports that arrive out of order.
        cctxt = self.client.prepare(fanout=True)
        cctxt.cast(context, "update_service_capabilities",
                   service_name=service_name, host=host,
                   capabilities=capabilities,
                   timestamp=time.time() if timestamp is None else timestamp)

    def sync_volume_info(self, context: Any, *, host: str,
                         volume_ids: list[str]) -> None:
        """Tell every scheduler which volumes ``host`` holds now."""
        cctxt = self.client.prepare(fanout=True)
        cctxt.cast(context, "sync_volume_info", host=host,
                   volume_ids=volume_ids, timestamp=time.time())

    def create_volume(self, context: Any, *, volume_id: str,
                      request_spec: dict) -> None:
        """Place a volume whose row exists in ``creating`` without a host.

        ``request_spec``: ``size``, ``availability_zone``,
        ``scheduler_hints`` (``same_host``/``different_host`` id lists,
        ``aggregate_metadata``: ``{key: value}``).
        """
        self.client.cast(context, "create_volume", volume_id=volume_id,
                         request_spec=request_spec)

    def get_pools(self, context: Any) -> list[dict]:
        """Return ``[{"host", "capabilities"}]`` of every known host."""
        return self.client.call(context, "get_pools")
