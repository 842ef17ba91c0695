"""Client side of the scheduler RPC API.

Each message goes at the version its method (and arguments) came in,
capped by what the running schedulers serve (``[upgrade_levels]
scheduler``).

Version history: see :mod:`capstan_volumes.scheduler.rpc_methods`.
"""
from __future__ import annotations

import time
from typing import Any

import oslo_messaging as messaging

from capstan.common.rpcapi import RPCAPI
from capstan.common.upgrade_levels import UpgradeLevels
from capstan_volumes.scheduler.rpc_methods import METHODS, TOPIC

__all__ = ["TOPIC", "SchedulerAPI"]


class SchedulerAPI(RPCAPI):
    """Casts and calls to the scheduler topic."""

    def __init__(self, transport: messaging.Transport, *,
                 retry: int | None = None,
                 timeout: float | None = None,
                 upgrade_levels: UpgradeLevels | None = None) -> None:
        super().__init__(transport, TOPIC, METHODS, retry=retry,
                         timeout=timeout, upgrade_levels=upgrade_levels)

    def update_service_capabilities(self, context: Any, *, service_name: str,
                                    host: str, capabilities: dict,
                                    timestamp: float | None = None) -> None:
        # The sender's wall clock (when it read its state) lets the
        # scheduler drop reports that arrive out of order.
        self.cast(context, "update_service_capabilities", fanout=True,
                  service_name=service_name, host=host,
                  capabilities=capabilities,
                  timestamp=time.time() if timestamp is None else timestamp)

    def sync_volume_info(self, context: Any, *, host: str,
                         volume_ids: list[str]) -> None:
        """Tell every scheduler which volumes ``host`` holds now."""
        self.cast(context, "sync_volume_info", fanout=True, host=host,
                  volume_ids=volume_ids, timestamp=time.time())

    def create_volume(self, context: Any, *, volume_id: str,
                      request_spec: dict) -> None:
        """Place a volume whose row exists in ``creating`` without a host.

        ``request_spec``: ``size``, ``availability_zone``,
        ``scheduler_hints`` (``same_host``/``different_host`` id lists,
        ``aggregate_metadata``: ``{key: value}``).
        """
        self.cast(context, "create_volume", volume_id=volume_id,
                  request_spec=request_spec)

    def get_pools(self, context: Any) -> list[dict]:
        """Return ``[{"host", "capabilities"}]`` of every known host."""
        return self.call(context, "get_pools")
