"""GET /healthcheck: 200 when the database and broker answer, else 503."""
from __future__ import annotations

import socket

from capstan.common.db.api import Database
from tests.functional.api_env import APIEnv, assert_error


def _health(env):
    try:
        return env.request("GET", "/healthcheck")
    finally:
        env.close()


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on exit: nothing listens


def test_healthcheck_sqlite_and_fake_answers_200(tmp_path):
    response = _health(APIEnv(tmp_path, auth_strategy="token"))
    assert response.status_code == 200
    assert response.json_body == {
        "status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    assert response.headers["x-openstack-request-id"].startswith("req-")


def test_healthcheck_unreachable_database_answers_503(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/no/such/dir/capstan.sqlite")
    response = _health(APIEnv(tmp_path, db=db))
    assert_error(response, 503)
    assert response.json_body["status"] == "unavailable"
    assert response.json_body["checks"] == {"database": "unavailable",
                                            "broker": "ok"}


def test_healthcheck_dead_postgresql_answers_503(tmp_path):
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{_dead_port()}"
                  "/capstan")
    response = _health(APIEnv(tmp_path, db=db))
    assert response.json_body["checks"]["database"] == "unavailable"
    assert "127.0.0.1" not in response.text  # the reason stays in the log


def test_healthcheck_dead_broker_answers_503(tmp_path):
    env = APIEnv(tmp_path, transport_url=f"rabbit://guest:guest@127.0.0.1:"
                                         f"{_dead_port()}/")
    response = _health(env)
    assert_error(response, 503)
    assert response.json_body["checks"] == {"database": "ok",
                                            "broker": "unavailable"}


def test_healthcheck_real_rabbitmq_answers_200(tmp_path, rabbit_url):
    response = _health(APIEnv(tmp_path, transport_url=rabbit_url))
    assert response.status_code == 200, response.body
    assert response.json_body["checks"]["broker"] == "ok"


def test_healthcheck_wrong_method_answers_405(tmp_path):
    env = APIEnv(tmp_path)
    try:
        response = env.request("POST", "/healthcheck", {})
    finally:
        env.close()
    assert_error(response, 405)
    assert response.headers["Allow"] == "GET, HEAD"
