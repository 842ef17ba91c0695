"""A rolling upgrade on RabbitMQ and PostgreSQL: the same scenes as
tests/functional/test_rpc_versions.py, over a real broker, with the
old and new Managers serving one topic from two hosts at once."""
import pytest

from capstan.common import config, exception, rpc
from capstan.common.db import migration
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan.common.rpcapi import RPCAPI
from capstan.common.service import Service
from capstan.common.upgrade_levels import UpgradeLevels
from tests.functional.test_rpc_versions import (TOPIC, NewManager,
                                                OldManager, ctx, wait_until)

pytestmark = pytest.mark.timeout(180)

_DEADLINE = 20.0


@pytest.fixture
def conf(tmp_path, rabbit_url):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("transport_url", rabbit_url)
    return conf


@pytest.fixture
def db(pg_url):
    db = Database(pg_url)
    migration.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def transport(conf):
    transport = rpc.get_transport(conf)
    yield transport
    transport.cleanup()


@pytest.fixture
def start(conf, db, transport):
    started = []

    def start(manager, host):
        service = Service.create(conf, db, transport, topic=TOPIC, host=host,
                                 binary="worker", manager=manager,
                                 report_interval=1, periodic_interval=1,
                                 periodic_fuzzy_delay=0)
        started.append(service)
        service.start()
        return service

    yield start
    for service in started:
        service.stop(graceful=False)


def client_for(conf, db, transport, manager_class):
    return RPCAPI(transport, TOPIC, manager_class, timeout=_DEADLINE,
                  upgrade_levels=UpgradeLevels(conf, Services(db)))


def test_rolling_upgrade_over_rabbitmq(conf, db, transport, start):
    old = start(OldManager, "h1")
    new = start(NewManager, "h2")
    new_client = client_for(conf, db, transport, NewManager)
    old_client = client_for(conf, db, transport, OldManager)
    assert new_client.version_cap() == "1.0"

    # The old method, from either client, reaches each release's service.
    for client, service in ((new_client, old), (old_client, new),
                            (new_client, new)):
        reply = client.call(ctx(), "ping", server=service.host, value=1)
        assert reply["by"] == service.manager.__class__.__name__
    new_client.cast(ctx(), "note", server="h1", value=2, tag=None)
    wait_until(lambda: ("note", 2, None) in old.manager.seen, "the note")

    # The new method is refused while h1 is old: nothing is sent.
    with pytest.raises(exception.RPCVersionTooNew):
        new_client.cast(ctx(), "shout", value="hi")

    old.stop()  # h1 goes down for its upgrade, then comes back new
    start(NewManager, "h1")
    upgraded = client_for(conf, db, transport, NewManager)
    assert upgraded.version_cap() == "1.1"
    assert upgraded.call(ctx(), "shout", server="h1", value="hi") == "HI"
    assert not any(entry[0] == "shout" for entry in old.manager.seen)
