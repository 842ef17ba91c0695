"""One capstan deployment for a benchmark: config, schema, tokens, rows,
and its api-server and worker processes.

The config is what an operator would write (DESIGN.md 4); the bench sets
only what it must: its own host name, vhost and database, a fixed port,
the fake driver, no random periodic start delay, and a short graceful stop.
Rows are seeded with plain SQL inserts into the schema ``db sync`` made.
"""
from __future__ import annotations

import contextlib
import datetime
import http.client
import pathlib
import uuid
from typing import Any

import sqlalchemy as sa

from bench import backends, procs
from bench.procs import BenchError, Proc, ProcGroup
from capstan_volumes import models as volume_models


def source_paste() -> pathlib.Path:
    """The api-paste.ini of the checkout the servers run from."""
    return procs.TREE / "etc" / "api-paste.ini"


def utcnow() -> datetime.datetime:
    # The naive UTC capstan stores (common.db.models.utcnow).
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _ini(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("$", "$$")  # oslo.config interpolates $name


class Deployment:
    """A config file and the processes started on it.

    ``db_url`` "sqlite" is a database file of its own, "postgresql" a
    PostgreSQL database of its own; ``transport_url`` "rabbit" a RabbitMQ
    vhost of its own. :meth:`close` stops the processes and removes them.
    """

    def __init__(self, workdir: pathlib.Path, name: str, *, db_url: str,
                 transport_url: str, paste: pathlib.Path | None = None,
                 api_options: dict | None = None, **defaults: Any) -> None:
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._backends = contextlib.ExitStack()
        if db_url == "sqlite":
            db_url = f"sqlite:///{self.dir}/capstan.sqlite"
        elif db_url == "postgresql":
            db_url = self._backends.enter_context(backends.pg_database())
        if transport_url == "rabbit":
            try:
                transport_url = self._backends.enter_context(
                    backends.rabbit_vhost())
            except BaseException:
                self._backends.close()
                raise
        self.db_url = db_url
        self.transport_url = transport_url
        self.host = f"bench-{name}-{uuid.uuid4().hex[:6]}"
        self.port = procs.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.procs = ProcGroup(self.dir)
        self.config_file = self.dir / "capstan.conf"
        self._engine: sa.Engine | None = None
        values = {
            "host": self.host, "transport_url": transport_url,
            "state_path": self.dir / "state", "periodic_fuzzy_delay": 0,
            "graceful_shutdown_timeout": 5, "volume_driver": "fake",
        }
        values.update(defaults)
        self.write_config(values, paste or source_paste(), api_options or {})

    def write_config(self, defaults: dict, paste: pathlib.Path,
                     api_options: dict) -> None:
        sections = {
            "DEFAULT": defaults,
            "database": {"connection": self.db_url},
            "api": {"bind_host": "127.0.0.1", "bind_port": self.port,
                    "auth_strategy": "token",
                    "token_file": self.dir / "tokens",
                    "paste_config": paste, **api_options},
            "file_driver": {"capacity_gb": 1_000_000},
        }
        lines = []
        for section, options in sections.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {_ini(v)}" for k, v in options.items()]
            lines.append("")
        self.config_file.write_text("\n".join(lines), encoding="utf-8")

    # -- capstan-manage ---------------------------------------------------

    def manage(self, *args: str) -> str:
        return procs.run([procs.binary("capstan-manage"), "--config-file",
                          str(self.config_file), *args])

    def db_sync(self) -> None:
        self.manage("db", "sync")

    def token(self, user: str, project: str, roles: str) -> str:
        return self.manage("token", "create", "--user", user, "--project",
                           project, "--roles", roles).strip()

    # -- rows ---------------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.db_url)
        return self._engine

    def seed_volumes(self, count: int, *, project: str, host: str | None,
                     status: str = "available") -> list[str]:
        """Insert ``count`` volume rows; return their ids."""
        from capstan.common.db import models

        now = utcnow()
        rows = [{
            "id": str(uuid.uuid4()), "name": f"vol-{i}", "size": 1,
            "status": status, "host": host, "availability_zone": "zone1",
            "project_id": project, "user_id": "bench", "metadata": {},
            "scheduler_hints": {}, "schedule_attempts": 0,
            "created_at": now - datetime.timedelta(seconds=count - i),
            "updated_at": now} for i in range(count)]
        with self.engine.begin() as connection:
            connection.execute(sa.insert(volume_models.Volume.__table__), rows)
        return [row["id"] for row in rows]

    def seed_services(self, count: int, topic: str = "volume") -> None:
        """Insert ``count`` live service records of other hosts."""
        from capstan.common.db import models

        now = utcnow()
        rows = [{
            "host": f"seed-{i:05d}", "binary": "worker", "topic": topic,
            "state": "running", "report_count": i, "disabled": i % 10 == 0,
            "disabled_reason": "maintenance" if i % 10 == 0 else None,
            "forced_down": False, "last_seen_up": now, "created_at": now,
            "updated_at": now} for i in range(count)]
        with self.engine.begin() as connection:
            connection.execute(sa.insert(models.Service.__table__), rows)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    # -- processes ----------------------------------------------------------

    def start_api(self, name: str = "api-server", *, port: int | None = None,
                  **api_options: Any) -> Proc:
        """Start api-server; return once GET / answers 200. With ``port``
        (another api-server beside the first), its ``[api]`` options are
        the deployment's overridden by ``api_options``."""
        argv = [procs.binary("api-server"), "--config-file",
                str(self.config_file)]
        if port is not None:
            overlay = self.dir / f"{name}.conf"
            options = {"bind_port": port, **api_options}
            overlay.write_text("[api]\n" + "".join(
                f"{k} = {_ini(v)}\n" for k, v in options.items()),
                encoding="utf-8")
            argv += ["--config-file", str(overlay)]
        port = port or self.port
        proc = self.procs.start(name, argv)
        procs.wait_until(lambda: http_status(port, "/") == 200,
                         what=f"{name} to answer GET /", proc=proc,
                         interval=0.01)
        return proc

    def start_worker(self, topic: str, *, host: str | None = None,
                     wait: bool = True) -> Proc:
        """Start ``worker --topic``; return once its record is up."""
        argv = [procs.binary("worker"), "--topic", topic, "--config-file",
                str(self.config_file)]
        if host is not None:
            conf = self.dir / f"{topic}-{host}.conf"
            conf.write_text(f"[DEFAULT]\nhost = {host}\n", encoding="utf-8")
            argv += ["--config-file", str(conf)]
        since = utcnow()
        proc = self.procs.start(f"worker-{topic}-{host or self.host}", argv)
        if wait:
            procs.wait_until(lambda: self.record_up(host or self.host, topic,
                                                    since),
                             what=f"the {topic} worker's service record",
                             proc=proc, interval=0.01)
        return proc

    def record_up(self, host: str, topic: str,
                  since: datetime.datetime) -> bool:
        """Whether (host, topic) has a running record heartbeated since."""
        last = self.scalar(
            "SELECT last_seen_up FROM services WHERE host = :host AND "
            "topic = :topic AND deleted_at IS NULL AND state = 'running'",
            host=host, topic=topic)
        if isinstance(last, str):  # SQLite hands DateTime back as text
            last = datetime.datetime.fromisoformat(last)
        return last is not None and last >= since.replace(microsecond=0)

    def close(self) -> None:
        self.procs.stop_all()
        if self._engine is not None:
            self._engine.dispose()
        self._backends.close()

    def __enter__(self) -> "Deployment":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def http_status(port: int, path: str, headers: dict | None = None,
                timeout: float = 2.0) -> int | None:
    """Status of one GET, or None if nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port,
                                            timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        connection.close()


def http_get(port: int, path: str, headers: dict | None = None,
             timeout: float = 30.0) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port,
                                            timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), body
    finally:
        connection.close()


def require_ok(port: int, path: str, headers: dict) -> bytes:
    status, _, body = http_get(port, path, headers)
    if status != 200:
        raise BenchError(f"GET {path} answered {status}: {body[:200]!r}")
    return body
