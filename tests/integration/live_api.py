"""A real ``api-server`` (token auth) on RabbitMQ and PostgreSQL, per module.

The bad-input, schema-fuzzing and security tests each start one
:class:`LiveAPI` for their whole module (:func:`live_api`): a fresh
PostgreSQL database and RabbitMQ vhost (tests/backends.py), a config file
in a tmp directory, ``capstan-manage db sync``, the tokens the module asks
for, optionally a scheduler and a volume worker (fake driver), then
``api-server`` on an ephemeral port. Every wait polls with a deadline; no
test asserts how long anything took. The process group of every process
is SIGKILLed at the end; logs stay in the tmp directory.

:mod:`tests.integration.rawhttp` talks to it over raw sockets.
"""
from __future__ import annotations

import contextlib
import pathlib
import re
import urllib.parse
from typing import Any, Iterable, Iterator

from tests import backends
from tests.integration import procs

LISTENING = r"listening on (http://\S+)"


class LiveAPI:
    """One module's config, tokens and processes."""

    def __init__(self, tmp_path: pathlib.Path, db_url: str,
                 transport_url: str, **defaults: Any) -> None:
        self.tmp_path = tmp_path
        self.db_url = db_url
        self.transport_url = transport_url
        self.procs = procs.ProcGroup(tmp_path)
        self.token_file = tmp_path / "tokens"
        self.config_file = self._write_config(defaults)
        self.api: procs.Proc | None = None
        self.workers: list[procs.Proc] = []
        self.base_url = ""
        self.host = ""
        self.port = 0

    def _write_config(self, defaults: dict[str, Any]) -> str:
        """capstan.conf; ``defaults`` add to or override [DEFAULT]."""
        path = self.tmp_path / "capstan.conf"
        procs.write_config(path, {
            "DEFAULT": {
                "host": "live",
                "transport_url": self.transport_url,
                "state_path": self.tmp_path / "state",
                "report_interval": 1,
                "service_down_time": 10,
                "periodic_interval": 1,
                "periodic_fuzzy_delay": 0,
                "graceful_shutdown_timeout": 5,
                "volume_driver": "fake",
                **defaults,
            },
            "database": {"connection": self.db_url},
            "api": {"bind_host": "127.0.0.1", "bind_port": 0,
                    "auth_strategy": "token",
                    "token_file": self.token_file},
        })
        return str(path)

    def manage(self, *args: str) -> str:
        result = procs.run("capstan-manage",
                           ["--config-file", self.config_file, *args])
        assert result.returncode == 0, result.stderr
        return result.stdout

    def create_token(self, user: str, project: str, roles: str) -> str:
        """``capstan-manage token create``; return the printed token."""
        return self.manage("token", "create", "--user", user, "--project",
                           project, "--roles", roles).strip()

    def start(self, worker_topics: Iterable[str] = ()) -> None:
        """db sync, the workers of ``worker_topics``, then api-server."""
        self.manage("db", "sync")
        for topic in worker_topics:
            proc = self.procs.start(
                "worker", ["--topic", topic, "--config-file",
                           self.config_file], f"worker-{topic}.log")
            proc.wait_for_log(rf"started, consuming {topic}\.")
            self.workers.append(proc)
        self.api = self.procs.start(
            "api-server", ["--config-file", self.config_file],
            "api-server.log")
        line = self.api.wait_for_log(LISTENING)[0]
        self.base_url = re.search(LISTENING, line).group(1)
        url = urllib.parse.urlsplit(self.base_url)
        self.host, self.port = url.hostname, url.port

    def log(self) -> str:
        """Everything api-server has logged so far."""
        return self.api.log()

    def all_logs(self) -> str:
        """Everything every process of this module has logged so far."""
        return "\n".join(proc.log() for proc in self.procs.procs)

    def assert_running(self) -> None:
        dead = [p for p in (self.api, *self.workers) if not p.running()]
        assert not dead, "exited: " + "\n".join(
            f"{p!r} -> {p.returncode}\n{p.log_tail()}" for p in dead)

    def close(self) -> None:
        self.procs.cleanup()


@contextlib.contextmanager
def live_api(tmp_path: pathlib.Path, **defaults: Any) -> Iterator[LiveAPI]:
    """A LiveAPI on a fresh database and vhost, not started yet."""
    with backends.fresh_pg_database() as db_url, \
            backends.fresh_rabbit_vhost() as transport_url:
        api = LiveAPI(tmp_path, db_url, transport_url, **defaults)
        try:
            yield api
        finally:
            api.close()
