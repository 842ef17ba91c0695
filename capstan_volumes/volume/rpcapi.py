"""Client side of the volume RPC API.

Every cast but the fanout goes to one host (``server=host``); the manager's
compare-and-swap status changes make a repeated cast harmless. Each
message goes at the version its method (and arguments) came in, capped by
what the running volume services serve (``[upgrade_levels] volume``).

Version history: see :mod:`capstan_volumes.volume.rpc_methods`.
"""
from __future__ import annotations

from typing import Any

import oslo_messaging as messaging

from capstan.common.rpcapi import RPCAPI
from capstan.common.upgrade_levels import UpgradeLevels
from capstan_volumes.volume.rpc_methods import METHODS, TOPIC

__all__ = ["TOPIC", "VolumeAPI"]


class VolumeAPI(RPCAPI):
    """Casts and calls to the volume topic."""

    def __init__(self, transport: messaging.Transport, *,
                 retry: int | None = None,
                 upgrade_levels: UpgradeLevels | None = None) -> None:
        super().__init__(transport, TOPIC, METHODS, retry=retry,
                         upgrade_levels=upgrade_levels)

    def publish_service_capabilities(self, context: Any) -> None:
        """Ask every volume worker to report its capabilities now."""
        self.cast(context, "publish_service_capabilities", fanout=True)

    def create_volume(self, context: Any, *, host: str,
                      volume_id: str) -> None:
        self.cast(context, "create_volume", server=host, volume_id=volume_id)

    def delete_volume(self, context: Any, *, host: str,
                      volume_id: str) -> None:
        self.cast(context, "delete_volume", server=host, volume_id=volume_id)

    def extend_volume(self, context: Any, *, host: str, volume_id: str,
                      new_size: int) -> None:
        self.cast(context, "extend_volume", server=host, volume_id=volume_id,
                  new_size=new_size)
