"""/v1/services through the whole pipeline, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from tests.functional.api_env import ADMIN, APIEnv, assert_error


@pytest.fixture
def env(tmp_path, db_url):
    env = APIEnv(tmp_path, db_url=db_url)
    yield env
    env.close()


def _services(env, query=""):
    response = env.request("GET", "/v1/services" + query, headers=ADMIN)
    assert response.status_code == 200, response.body
    return {s["id"]: s for s in response.json_body["services"]}


def _put(env, service_id, body):
    return env.request("PUT", f"/v1/services/{service_id}", body,
                       headers=ADMIN)


def test_services_list_shows_up_and_down(env):
    stale = env.add_service("host1")
    env.clock.advance(env.conf.service_down_time + 1)
    fresh = env.add_service("host2")
    services = _services(env)
    assert services[stale]["state"] == "down"
    assert services[fresh]["state"] == "up"
    assert services[fresh] == {
        "id": fresh, "host": "host2", "binary": "worker", "topic": "volume",
        "status": "enabled", "state": "up", "disabled_reason": None,
        "forced_down": False, "last_seen_up": "2024-01-01T12:01:01+00:00",
        "report_count": 0}


def test_services_list_filters_by_host_binary_topic(env):
    env.add_service("host1", "volume")
    wanted = env.add_service("host1", "scheduler", binary="sched")
    env.add_service("host2", "scheduler", binary="sched")
    assert list(_services(env, "?host=host1&topic=scheduler")) == [wanted]
    assert list(_services(env, "?host=host1&binary=sched")) == [wanted]
    assert _services(env, "?host=nowhere") == {}


def test_services_disable_with_reason_then_enable(env):
    service_id = env.add_service()
    before = _services(env)[service_id]["last_seen_up"]
    env.clock.advance(5)

    response = _put(env, service_id, {"status": "disabled",
                                      "disabled_reason": "maintenance"})
    assert response.status_code == 200
    service = response.json_body["service"]
    assert service["status"] == "disabled"
    assert service["disabled_reason"] == "maintenance"
    assert service["state"] == "up"

    service = _put(env, service_id, {"status": "enabled"}).json_body[
        "service"]
    assert service["status"] == "enabled"
    assert service["disabled_reason"] is None
    assert _services(env)[service_id]["last_seen_up"] == before


def test_services_forced_down_makes_it_down(env):
    service_id = env.add_service()
    service = _put(env, service_id, {"forced_down": True}).json_body[
        "service"]
    assert service["forced_down"] is True
    assert service["state"] == "down"
    service = _put(env, service_id, {"forced_down": False}).json_body[
        "service"]
    assert service["state"] == "up"


@pytest.mark.parametrize("body", [
    {},
    {"status": "paused"},
    {"status": "enabled", "disabled_reason": "why"},
    {"status": "disabled", "disabled_reason": 5},
    {"status": "disabled", "disabled_reason": "x" * 256},
    {"status": "disabled", "extra": 1},
    {"forced_down": "yes"},
    {"forced_down": 1},
    {"forced_down": True, "status": "enabled"},
    {"disabled_reason": "only"},
])
def test_services_update_invalid_body_answers_400(env, body):
    service_id = env.add_service()
    assert_error(_put(env, service_id, body), 400)


def test_services_update_unknown_id_answers_404(env):
    assert_error(_put(env, 4242, {"status": "enabled"}), 404)


def test_services_delete_while_up_answers_409(env):
    service_id = env.add_service()
    response = env.request("DELETE", f"/v1/services/{service_id}",
                           headers=ADMIN)
    assert_error(response, 409)
    assert service_id in _services(env)


def test_services_delete_when_down_answers_204(env):
    service_id = env.add_service()
    env.clock.advance(env.conf.service_down_time + 1)
    response = env.request("DELETE", f"/v1/services/{service_id}",
                           headers=ADMIN)
    assert response.status_code == 204
    assert response.body == b""
    assert response.headers["x-openstack-request-id"].startswith("req-")
    assert service_id not in _services(env)
    assert_error(env.request("DELETE", f"/v1/services/{service_id}",
                             headers=ADMIN), 404)


def test_services_delete_forced_down_answers_204(env):
    service_id = env.add_service()
    _put(env, service_id, {"forced_down": True})
    response = env.request("DELETE", f"/v1/services/{service_id}",
                           headers=ADMIN)
    assert response.status_code == 204
