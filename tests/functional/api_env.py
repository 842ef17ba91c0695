"""The REST app built from the real etc/api-paste.ini, for in-process tests.

:class:`APIEnv` builds what ``api-server`` builds (config, Database,
``fake://`` transport, ``load_app``) on a temporary state_path and drives
the app with ``webob.Request.blank``. Time is a :class:`FakeClock` handed
to the Database, so "down" is a clock step, not a sleep.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib
import secrets
from typing import Any

import webob

from capstan.api import factories
from capstan.api.deps import APIDeps
from capstan.common import config, rpc
from capstan.common.db import migration
from capstan.common.db.api import Database
from capstan.common.db.services import Services

REPO = pathlib.Path(__file__).resolve().parents[2]
PASTE_INI = str(REPO / "etc" / "api-paste.ini")

ADMIN = {"X-User-Id": "alice", "X-Project-Id": "ops", "X-Roles": "admin"}
MEMBER = {"X-User-Id": "bob", "X-Project-Id": "p1", "X-Roles": "member"}


class FakeClock:
    """A naive-UTC clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime.datetime(2024, 1, 1, 12, 0, 0)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


def make_conf(tmp_path: pathlib.Path, *, db_url: str | None = None,
              auth_strategy: str = "noauth",
              transport_url: str = "fake://"):
    conf = config.make_conf()
    conf([])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("transport_url", transport_url)
    conf.set_override("connection",
                      db_url or f"sqlite:///{tmp_path}/capstan.sqlite",
                      group="database")
    conf.set_override("auth_strategy", auth_strategy, group="api")
    # An absolute path, so that no policy.yaml in ~ or /etc leaks in.
    conf.set_override("policy_file", str(tmp_path / "policy.yaml"),
                      group="oslo_policy")
    return conf


class APIEnv:
    """A loaded API app with its database, transport and clock."""

    def __init__(self, tmp_path: pathlib.Path, *, paste: str = PASTE_INI,
                 db: Database | None = None, services: Services | None = None,
                 **conf_args: Any) -> None:
        self.tmp_path = tmp_path
        self.conf = make_conf(tmp_path, **conf_args)
        self.clock = FakeClock()
        self.db = db or Database(self.conf.database.connection,
                                 now=self.clock)
        if db is None:
            migration.upgrade(self.db)
        self.deps = APIDeps(conf=self.conf, db=self.db,
                            transport=rpc.get_transport(self.conf),
                            services=services)
        self.app = factories.load_app(paste, "main", self.deps)

    def close(self) -> None:
        self.deps.transport.cleanup()
        self.db.dispose()

    def request(self, method: str, path: str, body: Any = None, *,
                headers: dict[str, str] | None = None,
                content_type: str = "application/json") -> webob.Response:
        """Send one request; a non-bytes body is sent as JSON."""
        req = webob.Request.blank(path, method=method,
                                  headers=dict(headers or {}))
        if body is not None:
            req.body = body if isinstance(body, bytes) else \
                json.dumps(body).encode()
            req.content_type = content_type
        return req.get_response(self.app)

    def add_token(self, user: str, project: str, roles: str) -> str:
        """Append a token line as ``capstan-manage token create`` does."""
        token = secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        path = self.conf.api.token_file
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{digest} {user} {project} {roles}\n")
        return token

    def add_service(self, host: str = "host1", topic: str = "volume",
                    binary: str = "worker") -> int:
        return Services(self.db).create(host, binary, topic).id


def assert_error(response: webob.Response, code: int) -> dict:
    """Check the JSON error body, status and request id; return the error."""
    assert response.status_code == code, response.body
    assert response.content_type == "application/json"
    request_id = response.headers["x-openstack-request-id"]
    assert request_id.startswith("req-")
    error = response.json_body["error"]
    assert error["code"] == code
    assert error["request_id"] == request_id
    assert error["title"] and error["message"]
    assert "Traceback" not in response.text
    return error
