"""Client side of the scheduler RPC API.

Version history:

* 1.0 - ``update_service_capabilities`` (fanout), ``get_pools`` (call).
"""
from __future__ import annotations

import time
from typing import Any

import oslo_messaging as messaging

from common import rpc

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
                                    host: str, capabilities: dict) -> None:
        # The sender's wall clock lets the scheduler drop reports that
        # arrive out of order.
        cctxt = self.client.prepare(fanout=True)
        cctxt.cast(context, "update_service_capabilities",
                   service_name=service_name, host=host,
                   capabilities=capabilities, timestamp=time.time())

    def get_pools(self, context: Any) -> list[dict]:
        return self.client.call(context, "get_pools")
