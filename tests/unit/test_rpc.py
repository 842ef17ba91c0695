"""RPC glue: servers, clients and the context serializer over fake://.

One test reaches a real RabbitMQ (skipped without CAPSTAN_TEST_TRANSPORT_URL)
and one a RabbitMQ port where nothing listens.
"""
import time

import eventlet
import oslo_messaging as messaging
import pytest
from oslo_context import context as oslo_context

from capstan.common import config, context, exception, rpc

TOPIC = "rpctest"
_DEADLINE = 10.0


class Endpoint:
    """Records what reaches it and the context current while it runs."""

    target = messaging.Target(version="1.0")

    def __init__(self):
        self.seen = []

    @rpc.expose
    def echo(self, ctxt, value):
        self.seen.append(("echo", ctxt, oslo_context.get_current()))
        return value

    @rpc.expose
    def note(self, ctxt, value):
        self.seen.append(("note", value))

    def not_exposed(self, ctxt):
        self.seen.append(("not_exposed",))
        return "leaked"


def wait_until(predicate, what):
    deadline = time.monotonic() + _DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        eventlet.sleep(0.01)


@pytest.fixture
def conf():
    conf = config.make_conf()
    config.load(conf, [])
    return conf


def serve(transport, endpoint, server="h1"):
    server = rpc.get_server(transport, messaging.Target(topic=TOPIC,
                                                        server=server),
                            [endpoint])
    server.start()
    return server


def stop(*servers):
    # Stopped together: each fake:// listener takes up to a second to see
    # that it was stopped.
    for server in servers:
        server.stop()
    for server in servers:
        server.wait()


@pytest.fixture
def bus(conf):
    """A fake:// transport with an Endpoint served on it.

    Not shared between tests: every fake:// transport of a process uses the
    same in-memory exchanges, and cleanup() of any one empties them all.
    """
    transport = rpc.get_transport(conf)
    endpoint = Endpoint()
    server = serve(transport, endpoint)
    yield transport, endpoint
    stop(server)
    transport.cleanup()


def client(transport, **kwargs):
    kwargs.setdefault("timeout", _DEADLINE)
    return rpc.get_client(transport, messaging.Target(topic=TOPIC,
                                                      version="1.0"),
                          **kwargs)


def request_context(**kwargs):
    values = {"user_id": "u1", "project_id": "p1", "roles": ["member"],
              "request_id": "req-0b7c4a9e-0000-4000-8000-000000000001",
              "overwrite": False}
    values.update(kwargs)
    return context.RequestContext(**values)


def test_call_through_fake_transport_is_answered(bus):
    transport, endpoint = bus

    assert client(transport).call(request_context(), "echo",
                                  value={"a": [1, 2]}) == {"a": [1, 2]}


def test_call_carries_the_context_and_makes_it_current(bus):
    transport, endpoint = bus
    sent = request_context(roles=["admin", "member"])

    client(transport).call(sent, "echo", value=1)

    (_, received, current), = endpoint.seen
    assert isinstance(received, context.RequestContext)
    assert received is current
    assert received.request_id == sent.request_id
    assert received.roles == ["admin", "member"]
    assert (received.user_id, received.project_id) == ("u1", "p1")
    assert received.is_admin is True


def test_cast_is_processed(bus):
    transport, endpoint = bus

    client(transport).cast(request_context(), "note", value=7)

    wait_until(lambda: ("note", 7) in endpoint.seen, "the cast")


def test_cast_to_one_server_reaches_only_it(conf):
    transport = rpc.get_transport(conf)
    first, second = Endpoint(), Endpoint()
    servers = [serve(transport, first, "h1"), serve(transport, second, "h2")]
    try:
        client(transport).prepare(server="h2").cast(
            request_context(), "note", value=2)
        client(transport).prepare(fanout=True).cast(
            request_context(), "note", value="all")
        wait_until(lambda: ("note", "all") in first.seen
                   and ("note", "all") in second.seen, "the fanout")
        wait_until(lambda: ("note", 2) in second.seen, "the cast")
        assert ("note", 2) not in first.seen
    finally:
        stop(*servers)
        transport.cleanup()


def test_call_to_a_method_without_expose_is_refused(bus):
    transport, endpoint = bus

    with pytest.raises(messaging.NoSuchMethod, match="not_exposed"):
        client(transport).call(request_context(), "not_exposed")

    assert endpoint.seen == []


def test_serializer_round_trip_keeps_identity_and_admin_flag():
    serializer = rpc.RequestContextSerializer()
    sent = request_context(roles=["admin"])

    received = serializer.deserialize_context(
        serializer.serialize_context(sent))

    assert received.to_dict() == sent.to_dict()
    assert received.is_admin is True
    assert serializer.serialize_entity(sent, {"x": 1}) == {"x": 1}


def test_serializer_deserialize_context_becomes_current():
    serializer = rpc.RequestContextSerializer()
    data = request_context(request_id="req-current").to_dict()

    received = serializer.deserialize_context(data)

    assert oslo_context.get_current() is received


@pytest.mark.timeout(60)
def test_client_with_finite_retry_to_an_unreachable_broker_fails(conf):
    conf.set_override("transport_url", "rabbit://guest:guest@127.0.0.1:1/")
    transport = rpc.get_transport(conf)
    unreachable = client(transport, retry=0, timeout=2)
    try:
        with pytest.raises(messaging.MessageDeliveryFailure):
            unreachable.cast(request_context(), "note", value=1)
        with pytest.raises(messaging.MessagingTimeout):
            unreachable.call(request_context(), "echo", value=1)
        with pytest.raises(rpc.TRANSPORT_ERRORS):
            unreachable.prepare(fanout=True).cast(request_context(), "note",
                                                  value=1)
    finally:
        transport.cleanup()


class DroppingClient:
    """An oslo.messaging client whose first casts fail the way a broker
    dropping a connection while a new one opens its channel makes them."""

    def __init__(self, retry, failures=1):
        self.retry = retry
        self.failures = failures
        self.casts = []

    def cast(self, ctxt, method, **kwargs):
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError(104, "Connection reset by peer")
        self.casts.append((method, kwargs))


def test_cast_retrying_forever_sends_again_after_a_dropped_connection(
        monkeypatch):
    monkeypatch.setattr(rpc.Client, "_RESEND_PAUSE", 0)
    dropping = DroppingClient(retry=None, failures=2)

    rpc.Client(dropping).cast(request_context(), "note", value=1)

    assert dropping.casts == [("note", {"value": 1})]


def test_cast_with_finite_retry_after_a_dropped_connection_fails_delivery():
    dropping = DroppingClient(retry=2)

    with pytest.raises(messaging.MessageDeliveryFailure):
        rpc.Client(dropping).cast(request_context(), "note", value=1)
    assert dropping.casts == []


class FailingCallee:
    """An oslo.messaging client whose calls fail on the remote side."""

    retry = None

    def __init__(self, exc_type, value):
        self.error = messaging.RemoteError(exc_type, value)

    def call(self, ctxt, method, **kwargs):
        raise self.error


def test_call_whose_callee_lost_its_backend_is_service_unavailable():
    callee = FailingCallee("ServiceUnavailable", "database unavailable")

    with pytest.raises(exception.ServiceUnavailable) as raised:
        rpc.Client(callee).call(request_context(), "get_pools")
    assert "database unavailable" in str(raised.value)


def test_call_whose_callee_failed_otherwise_stays_a_remote_error():
    callee = FailingCallee("KeyError", "'host'")

    with pytest.raises(messaging.RemoteError):
        rpc.Client(callee).call(request_context(), "get_pools")


@pytest.mark.timeout(60)
def test_call_through_rabbitmq_is_answered(conf, rabbit_url):
    conf.set_override("transport_url", rabbit_url)
    transport = rpc.get_transport(conf)
    endpoint = Endpoint()
    server = serve(transport, endpoint)
    try:
        sent = request_context()
        assert client(transport, retry=1).call(sent, "echo", value=5) == 5
        (_, received, current), = endpoint.seen
        assert received.request_id == sent.request_id
        assert current is received
    finally:
        stop(server)
        transport.cleanup()
