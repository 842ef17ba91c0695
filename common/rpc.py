"""oslo.messaging glue: transports, servers, clients and the serializer.

NOTE(capstan): in one process every service and client must share one
transport object, so this module never creates a transport where it is
used: callers pass one in. With ``fake://`` this matters twice over: every
fake transport of a process uses the same in-memory exchanges (oslo.messaging
18.3.1 keeps them on a class), so two of them are not isolated buses, and
``cleanup()`` of any one of them empties the queues of all the others.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

import amqp.exceptions
import eventlet
import oslo_messaging as messaging
from kombu import exceptions as kombu_exceptions
from oslo_config import cfg
from oslo_messaging.rpc import dispatcher

from capstan.common import context as capstan_context
from capstan.common import exception
from capstan.common import rpc_versions

LOG = logging.getLogger(__name__)

# Re-exported so managers mark their RPC methods without importing
# oslo.messaging: under ExplicitRPCAccessPolicy only these are callable.
# ``method`` also records the version that added the method and its later
# arguments (capstan.common.rpc_versions); plain ``expose`` counts as 1.0.
expose = messaging.expose
method = rpc_versions.method
MethodSpec = rpc_versions.MethodSpec

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
               timeout: float | None = None) -> "Client":
    """Build an RPC client.

    ``retry`` bounds the broker reconnection attempts of every send (None
    retries for ever, which a worker may do but a REST request must not).
    """
    return Client(messaging.get_rpc_client(
        transport, target, version_cap=version_cap, retry=retry,
        timeout=timeout, serializer=RequestContextSerializer()))


class Client:
    """An oslo.messaging RPC client that keeps the promise of ``retry``.

    NOTE(capstan): against an unreachable broker oslo.messaging 18.3.1
    breaks a finite ``retry`` in two ways: a cast raises kombu's
    OperationalError instead of MessageDeliveryFailure, and a call blocks
    for ever opening its reply queue, a connection that ignores ``retry``.
    This wrapper turns the first into MessageDeliveryFailure and ends a call
    with a finite retry at its timeout with MessagingTimeout.

    It also breaks ``retry=None`` (for ever): when the broker goes away
    while a new pooled connection opens its channel, which is outside
    oslo.messaging's retry loop, the socket error escapes the cast (found
    by tests/integration/test_faults.py, restarting RabbitMQ under load).
    Nothing was published then, so a cast that retries for ever sends it
    again after a pause; a finite one raises MessageDeliveryFailure. Casts
    are idempotent by design (DESIGN.md 2), so a repeat is harmless anyway.
    """

    # Leeway given to oslo.messaging's own reply timeout, so that the guard
    # fires only when the call is stuck before it has even been sent.
    _GUARD_GRACE = 1.0
    # Pause before a retry-for-ever cast is sent again after a socket error.
    _RESEND_PAUSE = 1.0

    def __init__(self, client: Any) -> None:
        self._client = client

    def prepare(self, **kwargs: Any) -> "Client":
        return Client(self._client.prepare(**kwargs))

    def can_send_version(self, version: str) -> bool:
        return self._client.can_send_version(version)

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        while True:
            try:
                with _delivery_errors():
                    self._client.cast(ctxt, method, **kwargs)
                return
            except messaging.MessageDeliveryFailure as exc:
                retry = self._client.retry
                if retry is not None and retry >= 0:
                    raise
                LOG.warning("cast %s failed (%s); sending it again", method,
                            exc)
                eventlet.sleep(self._RESEND_PAUSE)

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        with _delivery_errors(), self._guard(method):
            try:
                return self._client.call(ctxt, method, **kwargs)
            except messaging.RemoteError as exc:
                # NOTE(capstan): the callee's database or broker is away
                # (found by tests/integration/test_faults.py, restarting
                # PostgreSQL): an outage for the caller too, not a bug.
                if exc.exc_type != exception.ServiceUnavailable.__name__:
                    raise
                raise exception.ServiceUnavailable(
                    f"{method}: {exc.value}") from exc

    @contextlib.contextmanager
    def _guard(self, method: str) -> Iterator[None]:
        retry = self._client.retry
        if retry is None or retry < 0:
            yield
            return
        timeout = self._client.timeout
        if timeout is None:
            timeout = self._client.conf.rpc_response_timeout
        guard = eventlet.Timeout(timeout + self._GUARD_GRACE)
        try:
            yield
        except eventlet.Timeout as exc:
            if exc is not guard:
                raise
            raise messaging.MessagingTimeout(
                f"no reply to {method} within {timeout}s; is the broker "
                "reachable?") from None
        finally:
            guard.cancel()


# What escapes oslo.messaging when the broker is unreachable or drops the
# connection at the wrong moment (see Client).
_BROKER_ERRORS = (kombu_exceptions.OperationalError,
                  amqp.exceptions.ConnectionError, ConnectionError)


@contextlib.contextmanager
def _delivery_errors() -> Iterator[None]:
    try:
        yield
    except _BROKER_ERRORS as exc:
        raise messaging.MessageDeliveryFailure(
            f"cannot reach the message broker: {exc}") from exc
