"""The app behind the real eventlet server: what Request.blank cannot show."""
from __future__ import annotations

import pytest
import requests
from eventlet import wsgi as eventlet_wsgi

from capstan.common import wsgi
from tests.functional.api_env import ADMIN, APIEnv

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def served(tmp_path, monkeypatch):
    # Server sets eventlet's process-wide MAX_HEADER_LINE; give it back.
    monkeypatch.setattr(eventlet_wsgi, "MAX_HEADER_LINE",
                        eventlet_wsgi.MAX_HEADER_LINE)
    env = APIEnv(tmp_path)
    server = wsgi.Server("api", env.app)
    server.start()
    yield env, f"http://{server.host}:{server.port}"
    server.stop(graceful=False)
    server.close()
    env.close()


def _chunks(*parts: bytes):
    yield from parts  # a generator body makes requests send it chunked


def test_socket_chunked_body_is_read(served):
    env, url = served
    service_id = env.add_service()
    response = requests.put(
        f"{url}/v1/services/{service_id}", headers=dict(ADMIN, **JSON),
        data=_chunks(b'{"status": "disabled", ', b'"disabled_reason": "x"}'),
        timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["service"]["disabled_reason"] == "x"


def test_socket_oversized_chunked_body_answers_413(served):
    env, url = served
    service_id = env.add_service()
    response = requests.put(
        f"{url}/v1/services/{service_id}", headers=dict(ADMIN, **JSON),
        data=_chunks(b'{"status": "disabled", "disabled_reason": "',
                     b"x" * 200_000, b'"}'), timeout=10)
    assert response.status_code == 413
    assert response.json()["error"]["request_id"] == \
        response.headers["x-openstack-request-id"]
