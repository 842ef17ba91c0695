"""Client side of the volume RPC API.

Every cast but the fanout goes to one host (``server=host``); the manager's
compare-and-swap status changes make a repeated cast harmless.

Version history:

* 1.0 - ``publish_service_capabilities`` (fanout), ``create_volume``,
  ``delete_volume``, ``extend_volume`` (casts to one host).
"""
from __future__ import annotations

from typing import Any

import oslo_messaging as messaging

from capstan.common import rpc

TOPIC = "volume"
RPC_API_VERSION = "1.0"


class VolumeAPI:
    """Casts and calls to the volume topic."""

    def __init__(self, transport: messaging.Transport, *,
                 retry: int | None = None) -> None:
        target = messaging.Target(topic=TOPIC, version=RPC_API_VERSION)
        self.client = rpc.get_client(transport, target,
                                     version_cap=RPC_API_VERSION, retry=retry)

    def publish_service_capabilities(self, context: Any) -> None:
        """Ask every volume worker to report its capabilities now."""
        self.client.prepare(fanout=True).cast(
            context, "publish_service_capabilities")

    def create_volume(self, context: Any, *, host: str,
                      volume_id: str) -> None:
        self.client.prepare(server=host).cast(context, "create_volume",
                                              volume_id=volume_id)

    def delete_volume(self, context: Any, *, host: str,
                      volume_id: str) -> None:
        self.client.prepare(server=host).cast(context, "delete_volume",
                                              volume_id=volume_id)

    def extend_volume(self, context: Any, *, host: str, volume_id: str,
                      new_size: int) -> None:
        self.client.prepare(server=host).cast(context, "extend_volume",
                                              volume_id=volume_id,
                                              new_size=new_size)
