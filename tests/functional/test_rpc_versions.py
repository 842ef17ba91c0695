"""A rolling upgrade in one process: old and new Managers and clients on
one ``fake://`` transport and one SQLite database.

An OLD Manager serves only 1.0 methods; the NEW one adds a 1.1 method.
Clients are declared from either class and capped automatically by the
service records, as in a deployment half way through an upgrade.
"""
import time

import eventlet
import pytest

from capstan.common import config, context, exception, rpc
from capstan.common.db.services import Services
from capstan.common.manager import Manager
from capstan.common.rpcapi import RPCAPI
from capstan.common.service import Service
from capstan.common.upgrade_levels import UpgradeLevels

pytestmark = pytest.mark.timeout(120)

_DEADLINE = 20.0
TOPIC = "upgrading"


class OldManager(Manager):
    """The release before: ``ping`` and ``note`` (1.0)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    @rpc.method
    def ping(self, context, value):
        self.seen.append(("ping", value))
        return {"pong": value, "by": type(self).__name__}

    @rpc.method
    def note(self, context, value):
        self.seen.append(("note", value, None))


class NewManager(OldManager):
    """The release after: adds ``shout`` and ``note``'s ``tag`` (1.1)."""

    @rpc.method(since="1.0", arguments={"tag": "1.1"})
    def note(self, context, value, tag=None):
        self.seen.append(("note", value, tag))

    @rpc.method(since="1.1")
    def shout(self, context, value):
        self.seen.append(("shout", value))
        return value.upper()


def ctx():
    return context.RequestContext(user_id="u", project_id="p",
                                  roles=["admin"], overwrite=False)


def wait_until(predicate, what):
    end = time.monotonic() + _DEADLINE
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for " + what
        eventlet.sleep(0.02)


@pytest.fixture
def conf(tmp_path):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))
    return conf


@pytest.fixture
def start(conf, db, transport):
    started = []

    def start(manager, host="h1"):
        service = Service.create(conf, db, transport, topic=TOPIC, host=host,
                                 binary="worker", manager=manager,
                                 report_interval=0.05,
                                 periodic_interval=0.05,
                                 periodic_fuzzy_delay=0)
        started.append(service)
        service.start()
        return service

    yield start
    for service in started:
        service.stop(graceful=False)


@pytest.fixture
def client_for(conf, db, transport):
    def client_for(manager_class):
        # A fresh UpgradeLevels each: no cache carried between phases.
        return RPCAPI(transport, TOPIC, manager_class, timeout=_DEADLINE,
                      upgrade_levels=UpgradeLevels(conf, Services(db)))
    return client_for


def test_service_records_what_its_manager_serves(start, db):
    old = start(OldManager, host="h1")
    new = start(NewManager, host="h2")
    services = Services(db)
    assert services.get(old.service_id).rpc_version == "1.0"
    assert services.get(new.service_id).rpc_version == "1.1"


def test_new_client_old_service_old_method_works_new_one_is_refused(
        start, client_for):
    old = start(OldManager)
    client = client_for(NewManager)
    assert client.version_cap() == "1.0"

    reply = client.call(ctx(), "ping", value=1)
    assert reply == {"pong": 1, "by": "OldManager"}
    assert old.manager.seen == [("ping", 1)]

    with pytest.raises(exception.RPCVersionTooNew) as caught:
        client.call(ctx(), "shout", value="hi")
    assert "shout needs RPC 1.1 on topic upgrading" in str(caught.value)
    with pytest.raises(exception.RPCVersionTooNew):
        client.cast(ctx(), "shout", value="hi")
    # A newer argument left None goes at 1.0 and reaches the old service.
    client.cast(ctx(), "note", value=2, tag=None)
    wait_until(lambda: ("note", 2, None) in old.manager.seen, "the note")
    with pytest.raises(exception.RPCVersionTooNew):
        client.cast(ctx(), "note", value=3, tag="t")
    assert ("note", 3, "t") not in old.manager.seen
    assert not any(entry[0] == "shout" for entry in old.manager.seen)


def test_old_client_new_service_works(start, client_for):
    new = start(NewManager)
    client = client_for(OldManager)
    assert client.version_cap() == "1.1"
    assert client.call(ctx(), "ping", value=1) == {"pong": 1,
                                                   "by": "NewManager"}
    client.cast(ctx(), "note", value=2)
    wait_until(lambda: ("note", 2, None) in new.manager.seen, "the note")


def test_cap_rises_once_every_service_is_upgraded(start, client_for):
    old = start(OldManager, host="h1")
    start(NewManager, host="h2")
    assert client_for(NewManager).version_cap() == "1.0"

    old.stop()  # h1 goes down for its upgrade
    client = client_for(NewManager)
    assert client.version_cap() == "1.1"
    assert client.call(ctx(), "shout", value="hi") == "HI"

    start(NewManager, host="h1")  # back, upgraded
    assert client_for(NewManager).version_cap() == "1.1"
