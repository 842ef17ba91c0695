"""Client side of the volume RPC API.

Version history:

* 1.0 - ``publish_service_capabilities`` (fanout).
"""
from __future__ import annotations

from typing import Any

import oslo_messaging as messaging

from common import rpc

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
