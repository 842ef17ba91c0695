"""RPCAPI: each message at the version it needs, refused above the cap."""
import pytest

from capstan.common import config, exception, rpc, rpc_methods
from capstan.common.rpc_versions import MethodSpec
from capstan.common.rpcapi import RPCAPI
from capstan.common.manager import Manager

TOPIC = "thing"

METHODS = {
    "ping": MethodSpec.of("1.0"),
    "pong": MethodSpec.of("1.1"),
    "drop": MethodSpec.of("1.0", {"force": "1.2"}),
}


class FakeLevels:
    """The cap of every topic, as told."""

    def __init__(self, cap):
        self.value = cap
        self.asked = []

    def cap(self, topic):
        self.asked.append(topic)
        return self.value


class RecordingClient:
    """Stands for rpc.Client: records what would be sent."""

    def __init__(self, sent, **target):
        self.sent = sent
        self.target = target

    def prepare(self, **target):
        return RecordingClient(self.sent, **target)

    def cast(self, ctxt, method, **kwargs):
        self.sent.append(("cast", method, self.target, kwargs))

    def call(self, ctxt, method, **kwargs):
        self.sent.append(("call", method, self.target, kwargs))
        return "answer"


@pytest.fixture
def conf():
    conf = config.make_conf()
    config.load(conf, [])
    return conf


@pytest.fixture
def sent():
    return []


@pytest.fixture
def api_for(transport, sent):
    def api_for(cap, methods=METHODS):
        api = RPCAPI(transport, TOPIC, methods,
                     upgrade_levels=FakeLevels(cap))
        api.client = RecordingClient(sent)
        return api
    return api_for


def test_latest_is_derived_from_the_table(api_for):
    assert api_for(None).latest == "1.2"


def test_old_method_goes_at_its_own_version(api_for, sent):
    api_for("1.2").cast(None, "ping", server="h1", value=1)
    assert sent == [("cast", "ping", {"version": "1.0", "server": "h1"},
                     {"value": 1})]


def test_fanout_and_call(api_for, sent):
    api = api_for(None)
    api.cast(None, "ping", fanout=True, value=1)
    assert api.call(None, "pong", value=2) == "answer"
    assert sent == [
        ("cast", "ping", {"version": "1.0", "fanout": True}, {"value": 1}),
        ("call", "pong", {"version": "1.1"}, {"value": 2})]


def test_newer_method_above_the_cap_is_refused_and_nothing_sent(api_for,
                                                                sent):
    api = api_for("1.0")
    with pytest.raises(exception.RPCVersionTooNew) as caught:
        api.cast(None, "pong", server="h1", value=1)
    with pytest.raises(exception.RPCVersionTooNew):
        api.call(None, "pong", value=1)
    assert sent == []
    assert isinstance(caught.value, exception.Conflict)  # 409 on the API
    assert str(caught.value) == (
        "pong needs RPC 1.1 on topic thing; the running thing services "
        "speak 1.0: upgrade them first")


def test_newer_argument_passed_raises_the_version(api_for, sent):
    api_for("1.2").cast(None, "drop", name="a", force=True)
    assert sent[0][2]["version"] == "1.2"


def test_newer_argument_above_the_cap_is_refused(api_for, sent):
    with pytest.raises(exception.RPCVersionTooNew):
        api_for("1.1").cast(None, "drop", name="a", force=True)
    assert sent == []


def test_newer_argument_passed_as_none_is_dropped(api_for, sent):
    api_for("1.0").cast(None, "drop", name="a", force=None)
    assert sent == [("cast", "drop", {"version": "1.0"}, {"name": "a"})]


def test_can_send_asks_the_cap(api_for):
    api = api_for("1.0")
    assert api.can_send("ping")
    assert not api.can_send("pong")
    assert api.can_send("drop", force=None)
    assert not api.can_send("drop", force=True)


def test_other_major_cap_refuses(api_for, sent):
    with pytest.raises(exception.RPCVersionTooNew):
        api_for("2.0").cast(None, "ping")
    assert sent == []


def test_no_levels_means_no_cap(transport, sent):
    api = RPCAPI(transport, TOPIC, METHODS)
    api.client = RecordingClient(sent)
    api.cast(None, "drop", name="a", force=True)
    assert api.version_cap() is None
    assert sent[0][2]["version"] == "1.2"


def test_unknown_method_is_a_bug_not_a_message(api_for, sent):
    with pytest.raises(ValueError, match="no RPC method"):
        api_for(None).cast(None, "typo")
    assert sent == []


def test_built_from_a_manager_class(transport):
    class Thing(Manager):
        @rpc.method(since="1.4")
        def later(self, context):
            pass

    api = RPCAPI(transport, TOPIC, Thing)
    assert api.latest == "1.4"
    assert set(api.methods) == {"later"}


def test_framework_scheduler_table_builds_a_client(transport):
    api = RPCAPI(transport, "scheduler", rpc_methods.SCHEDULER)
    assert api.latest == "1.0"
    assert isinstance(api.client, rpc.Client)
