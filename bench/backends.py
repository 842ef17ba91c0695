"""A RabbitMQ vhost and a PostgreSQL database of the bench's own.

URLs come from ``CAPSTAN_BENCH_TRANSPORT_URL`` and ``CAPSTAN_BENCH_DB_URL``
(then the test tier's ``CAPSTAN_TEST_*``, then the local defaults). The
vhost (``rabbitmqctl``) and the database are made for one run and removed
afterwards, so a run never sees another's messages or rows.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import urllib.parse
import uuid
from typing import Iterator

from bench.procs import BenchError

DEFAULT_TRANSPORT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
DEFAULT_DB_URL = "postgresql+psycopg://postgres@127.0.0.1/test"


def transport_base_url() -> str:
    return (os.environ.get("CAPSTAN_BENCH_TRANSPORT_URL")
            or os.environ.get("CAPSTAN_TEST_TRANSPORT_URL")
            or DEFAULT_TRANSPORT_URL)


def db_admin_url() -> str:
    return (os.environ.get("CAPSTAN_BENCH_DB_URL")
            or os.environ.get("CAPSTAN_TEST_DB_URL") or DEFAULT_DB_URL)


def _rabbitmqctl() -> str:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise BenchError("rabbitmqctl not found: the bench makes a RabbitMQ "
                         "vhost of its own with it")
    return ctl


def _ctl(*args: str) -> str:
    try:
        result = subprocess.run([_rabbitmqctl(), "-q", *args], text=True,
                                capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"rabbitmqctl {args[0]} timed out") from None
    if result.returncode != 0:
        raise BenchError(f"rabbitmqctl {args[0]} failed: "
                         f"{result.stderr.strip()[:300]}")
    return result.stdout


def rabbit_version() -> str:
    return _ctl("version").strip()


def rabbit_status() -> str:
    """``rabbitmqctl status``: the node's memory, file and socket limits."""
    return _ctl("status")


@contextlib.contextmanager
def rabbit_vhost() -> Iterator[str]:
    """Create a vhost; yield the transport URL on it; delete it."""
    parsed = urllib.parse.urlsplit(transport_base_url())
    user = urllib.parse.unquote(parsed.username or "guest")
    vhost = f"capstan-bench-{uuid.uuid4().hex[:10]}"
    _ctl("add_vhost", vhost)
    try:
        _ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield urllib.parse.urlunsplit(parsed._replace(path="/" + vhost))
    finally:
        _ctl("delete_vhost", vhost)


def _admin_engine():
    import sqlalchemy as sa

    return sa.create_engine(db_admin_url(), isolation_level="AUTOCOMMIT")


def pg_version() -> str:
    import sqlalchemy as sa

    engine = _admin_engine()
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SHOW server_version")).scalar()
    finally:
        engine.dispose()


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """Create an empty database; yield its URL; drop it."""
    import sqlalchemy as sa

    name = f"capstan_bench_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.SQLAlchemyError as exc:
        admin.dispose()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise BenchError(f"cannot create a PostgreSQL database: {reason}"
                         ) from None
    url = sa.engine.make_url(db_admin_url()).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
