"""/v1/scheduler-stats/pools through the whole pipeline: an RPC call to a
real scheduler that heard from real volume workers."""
from __future__ import annotations

import pytest

from capstan.api import factories
from tests.functional.api_cloud import APICloud
from tests.functional.api_env import (ADMIN, MEMBER, PASTE_INI, APIEnv,
                                      assert_error)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def env(tmp_path):
    env = APIEnv(tmp_path)
    yield env
    env.close()


def _pools(env, headers=ADMIN, query=""):
    return env.request("GET", "/v1/scheduler-stats/pools" + query,
                       headers=headers)


def test_pools_shows_every_volume_host_to_an_admin(env):
    cloud = APICloud(env)
    try:
        response = _pools(env)
    finally:
        cloud.stop()

    assert response.status_code == 200
    pools = response.json_body["pools"]
    assert [pool["host"] for pool in pools] == ["vol-a", "vol-b"]
    assert all(set(pool) == {"host", "capabilities"} for pool in pools)
    capabilities = pools[1]["capabilities"]
    assert capabilities["driver"] == "fake"
    assert capabilities["availability_zone"] == "az1"
    assert (capabilities["total_capacity_gb"],
            capabilities["free_capacity_gb"]) == (200, 200)


def test_pools_is_forbidden_to_a_member(env):
    assert_error(_pools(env, MEMBER), 403)


def test_pools_rejects_query_parameters(env):
    assert_error(_pools(env, query="?host=vol-a"), 400)


def test_pools_without_a_scheduler_answers_503(env):
    env.conf.set_override("rpc_response_timeout", 1)
    env.app = factories.load_app(PASTE_INI, "main", env.deps)

    error = assert_error(_pools(env), 503)
    assert "unavailable" in error["message"]


def test_pools_with_broker_down_answers_503(tmp_path):
    env = APIEnv(tmp_path, transport_url="rabbit://guest:guest@127.0.0.1:1/")
    try:
        env.conf.set_override("rpc_client_retry", 0)
        env.conf.set_override("rpc_response_timeout", 1)
        env.app = factories.load_app(PASTE_INI, "main", env.deps)

        assert_error(_pools(env), 503)
    finally:
        env.close()
