"""GET / and GET /v1: the version documents."""
from __future__ import annotations

import pytest

from tests.functional.api_env import ADMIN, APIEnv


@pytest.fixture
def env(tmp_path):
    env = APIEnv(tmp_path, auth_strategy="noauth")
    yield env
    env.close()


def test_versions_root_lists_v1_without_auth(env):
    response = env.request("GET", "/")
    assert response.status_code == 200
    assert response.headers["x-openstack-request-id"].startswith("req-")
    [version] = response.json_body["versions"]
    assert version["id"] == "v1" and version["status"] == "CURRENT"
    assert version["links"] == [{"rel": "self",
                                 "href": "http://localhost/v1/"}]


@pytest.mark.parametrize("path", ["/v1", "/v1/"])
def test_versions_v1_shows_this_version(env, path):
    response = env.request("GET", path, headers=ADMIN)
    assert response.status_code == 200
    assert response.json_body["version"]["links"][0]["href"] == \
        "http://localhost/v1/"
