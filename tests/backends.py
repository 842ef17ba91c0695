"""Real PostgreSQL databases, RabbitMQ vhosts and Redis namespaces for tests,
one per test.

Integration tests find the servers through CAPSTAN_TEST_DB_URL,
CAPSTAN_TEST_TRANSPORT_URL and CAPSTAN_TEST_REDIS_URL. Outside CI a
missing URL skips the test with the reason; under CI (``CI`` set) it
fails, so CI can never pass by skipping.
Every test gets its own database, vhost and Redis key prefix, so runs
(and other users of the same servers) never see each other's rows,
messages or locks.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import urllib.parse
import uuid
from typing import Iterator

import pytest

DB_ENV = "CAPSTAN_TEST_DB_URL"
TRANSPORT_ENV = "CAPSTAN_TEST_TRANSPORT_URL"
REDIS_ENV = "CAPSTAN_TEST_REDIS_URL"


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    reason = f"{name} is not set; integration tests need it"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI)")
    pytest.skip(reason)


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """Create an empty PostgreSQL database; yield its URL; drop it."""
    import sqlalchemy as sa

    admin_url = require_env(DB_ENV)
    name = f"capstan_test_{uuid.uuid4().hex[:12]}"
    # No pool: a connection kept from before a restart of PostgreSQL
    # (tests/integration/test_faults.py) would fail the DROP afterwards.
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def fresh_rabbit_vhost() -> Iterator[str]:
    """Create a RabbitMQ vhost; yield the transport URL on it; delete it."""
    base = require_env(TRANSPORT_ENV)
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("rabbitmqctl is needed to make a vhost per test")
    parsed = urllib.parse.urlsplit(base)
    user = urllib.parse.unquote(parsed.username or "guest")
    vhost = f"capstan-test-{uuid.uuid4().hex[:12]}"
    _ctl(ctl, "add_vhost", vhost)
    _ctl(ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    try:
        yield urllib.parse.urlunsplit(parsed._replace(path="/" + vhost))
    finally:
        _ctl(ctl, "delete_vhost", vhost)


@contextlib.contextmanager
def fresh_redis_namespace() -> Iterator[str]:
    """Yield a tooz ``redis://`` URL with a namespace of its own; delete the
    namespace's keys afterwards."""
    import redis

    base = require_env(REDIS_ENV)
    namespace = f"capstan-test-{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}namespace={namespace}"
    finally:
        client = redis.Redis.from_url(base.split("?")[0])
        try:
            keys = list(client.scan_iter(match=f"{namespace}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def _ctl(ctl: str, *args: str) -> None:
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True,
                   timeout=60)
