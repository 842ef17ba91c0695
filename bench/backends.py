"""A RabbitMQ vhost and a PostgreSQL database of the bench's own.

URLs come from ``CAPSTAN_BENCH_TRANSPORT_URL`` and ``CAPSTAN_BENCH_DB_URL``
(then the test tier's ``CAPSTAN_TEST_*``, then the local defaults). The
vhost (``rabbitmqctl``) and the database are made for one run and removed
afterwards, so a run never sees another's messages or rows.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import resource
import shutil
import subprocess
import time
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


def _ctl(*args: str, ctl: list[str] | None = None) -> str:
    try:
        result = subprocess.run([*(ctl or [_rabbitmqctl()]), "-q", *args],
                                text=True, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"rabbitmqctl {args[0]} timed out") from None
    if result.returncode != 0:
        raise BenchError(f"rabbitmqctl {args[0]} failed: "
                         f"{result.stderr.strip()[:300]}")
    return result.stdout


def rabbit_version() -> str:
    return _ctl("version").strip()


def rabbit_status(node: "RabbitNode | None" = None) -> str:
    """``rabbitmqctl status``: the node's memory, file and socket limits."""
    return _ctl("status", ctl=node.ctl if node else None)


# The node's own scripts: Debian's /usr/sbin wrappers run them as the
# rabbitmq user, with that user's cookie and limits.
RABBIT_BIN = pathlib.Path("/usr/lib/rabbitmq/bin")


class RabbitNode:
    """A RabbitMQ node of the bench's own, beside the machine's.

    For a benchmark that needs more than the shared node allows: its
    ``ulimit -n`` (hence its file-handle limit, which caps connections) is
    raised to the hard limit of this shell. Runs as the current user, on
    ``port`` (AMQP) and ``port + 20000`` (distribution), with its data
    and logs under ``workdir``; guest/guest on loopback, vhost ``/``.
    """

    def __init__(self, workdir: pathlib.Path, port: int = 5681) -> None:
        self.dir = workdir / f"rabbit-{port}"
        self.port = port
        self.name = f"capstanbench{port}@localhost"
        self.url = f"rabbit://guest:guest@127.0.0.1:{port}/"
        self.ctl = [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name]

    def _env(self) -> dict:
        env = dict(os.environ)
        (self.dir / "env.conf").write_text("")
        (self.dir / "enabled_plugins").write_text("")
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        env.update({
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "env.conf"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 20000),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        })
        return env

    def start(self, timeout: float = 90.0) -> "RabbitNode":
        server = RABBIT_BIN / "rabbitmq-server"
        if not server.exists():
            raise BenchError(f"{server} not found: cannot start a RabbitMQ "
                             "node of the bench's own")
        self.dir.mkdir(parents=True, exist_ok=True)
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

        def lift() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

        subprocess.run([str(server), "-detached"], env=self._env(),
                       preexec_fn=lift, check=True, timeout=60,
                       capture_output=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                _ctl("await_startup", ctl=self.ctl)
                return self
            except BenchError as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    raise BenchError(f"RabbitMQ node {self.name} did not "
                                     f"start in {timeout:.0f} s: {exc}"
                                     ) from None
                time.sleep(1.0)

    def stop(self) -> None:
        with contextlib.suppress(BenchError):
            _ctl("stop", ctl=self.ctl)


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
