"""A rolling upgrade on RabbitMQ and PostgreSQL: the same scenes as
tests/functional/test_rpc_versions.py, over a real broker, with the
old and new Managers serving one topic from two hosts at once.

The ``start`` and ``client_for`` fixtures are the functional test's; here
they run on this module's ``conf`` (RabbitMQ) and ``db`` (PostgreSQL),
and on tests/conftest.py's ``transport``."""
import pytest

from capstan.common import config, exception
from tests.functional.test_rpc_versions import (  # noqa: F401 (fixtures)
    NewManager, OldManager, client_for, ctx, start, wait_until)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def conf(tmp_path, rabbit_url):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("transport_url", rabbit_url)
    return conf


@pytest.fixture
def db(pg_database):
    return pg_database


def test_rolling_upgrade_over_rabbitmq(start, client_for):
    old = start(OldManager, "h1")
    new = start(NewManager, "h2")
    new_client = client_for(NewManager)
    old_client = client_for(OldManager)
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
    upgraded = client_for(NewManager)
    assert upgraded.version_cap() == "1.1"
    assert upgraded.call(ctx(), "shout", server="h1", value="hi") == "HI"
    assert not any(entry[0] == "shout" for entry in old.manager.seen)
