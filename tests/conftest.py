"""Test-wide set-up shared by every tier.

NOTE(capstan): the binaries monkey-patch at their very first line; the tests
do the same here, before anything imports socket, threading or psycopg, so
the code under test runs as it does in production.
"""
from capstan.common import monkey

monkey.patch()

import pytest  # noqa: E402

from tests import backends  # noqa: E402


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A URL of an empty database: SQLite in tmp_path, or a fresh PostgreSQL
    database (skipped when CAPSTAN_TEST_DB_URL is unset outside CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/capstan.sqlite"
        return
    with backends.fresh_pg_database() as url:
        yield url


def _database_at_head(url):
    from capstan.common.db import migration
    from capstan.common.db.api import Database

    db = Database(url)
    migration.upgrade(db)
    return db


@pytest.fixture
def database(db_url):
    """A Database on ``db_url`` with the schema at head."""
    db = _database_at_head(db_url)
    yield db
    db.dispose()


@pytest.fixture
def pg_database(pg_url):
    """A Database on a fresh PostgreSQL database, schema at head."""
    db = _database_at_head(pg_url)
    yield db
    db.dispose()


@pytest.fixture
def db(tmp_path):
    """A Database on SQLite in tmp_path with the schema at head (a test
    module may define its own ``db``)."""
    from capstan.common.db import migration
    from capstan.common.db.api import Database

    db = Database(f"sqlite:///{tmp_path}/capstan.sqlite")
    migration.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def transport(conf):
    """The RPC transport of the test module's ``conf`` fixture."""
    from capstan.common import rpc

    transport = rpc.get_transport(conf)
    yield transport
    transport.cleanup()


@pytest.fixture
def pg_url():
    with backends.fresh_pg_database() as url:
        yield url


@pytest.fixture
def rabbit_url():
    """A transport URL on a fresh RabbitMQ vhost, deleted afterwards."""
    with backends.fresh_rabbit_vhost() as url:
        yield url


@pytest.fixture
def redis_url():
    """A tooz redis:// URL on a namespace of its own, cleared afterwards."""
    with backends.fresh_redis_namespace() as url:
        yield url


def pytest_collection_modifyitems(config, items):
    """Run the fault stage (``slow``: it restarts the shared RabbitMQ and
    PostgreSQL) after every other test, as a stage of its own."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)
