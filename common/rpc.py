"""oslo.messaging glue: transports, servers, clients and the serializer.

NOTE(capstan): each ``fake://`` transport object is its own bus. In one
process every service and client must share one transport object, so this
module never creates a transport where it is used: callers pass one in.
"""
from __future__ import annotations

import logging
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_messaging.rpc import dispatcher

from common import context as capstan_context

LOG = logging.getLogger(__name__)

# Re-exported so managers mark their RPC methods without importing
# oslo.messaging: under ExplicitRPCAccessPolicy only these are callable.
expose = messaging.expose

# Errors an API-side caller turns into "try again later" (503).
TRANSPORT_ERRORS = (messaging.MessageDeliveryFailure,
                    messaging.MessagingTimeout,
                    messaging.MessagingException)


def get_transport(conf: cfg.ConfigOpts) -> messaging.Transport:
    """Build the RPC transport named by ``[DEFAULT] transport_url``."""
    return messaging.get_rpc_transport(conf, url=conf.transport_url)


class RequestContextSerializer(messaging.Serializer):
    """Carry the RequestContext across the bus, payloads as plain JSON."""

    def __init__(self, base: messaging.Serializer | None = None) -> None:
        self._base = base or messaging.NoOpSerializer()

    def serialize_entity(self, ctxt, entity: Any) -> Any:
        return self._base.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt, entity: Any) -> Any:
        return self._base.deserialize_entity(ctxt, entity)

    def serialize_context(self, ctxt) -> dict:
        return ctxt.to_dict()

    def deserialize_context(self, ctxt: dict):
        # overwrite=True makes it the green thread's current context, which
        # oslo.log reads: the worker's log lines show the API's request id.
        return capstan_context.RequestContext.from_dict(ctxt, overwrite=True)


def get_server(transport: messaging.Transport, target: messaging.Target,
               endpoints: list[Any]) -> messaging.RPCServer:
    """Build an RPC server; only ``@expose``d endpoint methods are callable.

    The threading executor is green under eventlet's monkey patch; the
    eventlet executor is deprecated (DESIGN.md section 6).
    """
    return messaging.get_rpc_server(
        transport, target, endpoints, executor="threading",
        serializer=RequestContextSerializer(),
        access_policy=dispatcher.ExplicitRPCAccessPolicy)


def get_client(transport: messaging.Transport, target: messaging.Target, *,
               version_cap: str | None = None, retry: int | None = None,
               timeout: float | None = None) -> messaging.RPCClient:
    """Build an RPC client.

    ``retry`` bounds the broker reconnection attempts of every send (None
    retries for ever, which a worker may do but a REST request must not).
    """
    return messaging.get_rpc_client(
        transport, target, version_cap=version_cap, retry=retry,
        timeout=timeout, serializer=RequestContextSerializer())
