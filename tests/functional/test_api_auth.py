"""Authentication and policy through the real pipeline, both strategies."""
from __future__ import annotations

import os
import time

import pytest

from capstan.api import policy
from capstan.common import manage
from tests.functional.api_env import ADMIN, MEMBER, APIEnv, assert_error


@pytest.fixture
def token_env(tmp_path):
    env = APIEnv(tmp_path, auth_strategy="token")
    yield env
    env.close()


@pytest.fixture
def noauth_env(tmp_path):
    env = APIEnv(tmp_path, auth_strategy="noauth")
    yield env
    env.close()


def test_token_auth_missing_token_answers_401(token_env):
    assert_error(token_env.request("GET", "/v1/services"), 401)


def test_token_auth_wrong_token_answers_401(token_env):
    token_env.add_token("alice", "ops", "admin")
    response = token_env.request("GET", "/v1/services",
                                 headers={"X-Auth-Token": "not-a-token"})
    assert_error(response, 401)


def test_token_auth_admin_token_lists_services(token_env):
    token = token_env.add_token("alice", "ops", "admin,member")
    response = token_env.request("GET", "/v1/services",
                                 headers={"X-Auth-Token": token})
    assert response.status_code == 200
    assert response.json_body == {"services": []}


def test_token_auth_forged_identity_headers_are_ignored(token_env):
    token = token_env.add_token("bob", "p1", "member")
    forged = dict(ADMIN, **{"X-Auth-Token": token})
    response = token_env.request("GET", "/v1/services", headers=forged)
    assert_error(response, 403)


def test_token_auth_forged_headers_without_token_answer_401(token_env):
    assert_error(token_env.request("GET", "/v1/services", headers=ADMIN),
                 401)


def test_token_auth_new_token_works_without_restart(token_env):
    first = token_env.add_token("alice", "ops", "admin")
    assert token_env.request("GET", "/v1/services",
                             headers={"X-Auth-Token": first}).status_code \
        == 200
    second = token_env.add_token("carol", "ops", "admin")
    response = token_env.request("GET", "/v1/services",
                                 headers={"X-Auth-Token": second})
    assert response.status_code == 200


def test_token_auth_accepts_token_from_capstan_manage(token_env, tmp_path,
                                                      capsys):
    config_file = tmp_path / "capstan.conf"
    config_file.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n")
    assert manage.main(["--config-file", str(config_file), "token",
                        "create", "--user", "dave", "--project", "ops",
                        "--roles", "admin"]) == 0
    token = capsys.readouterr().out.strip()
    response = token_env.request("GET", "/v1/services",
                                 headers={"X-Auth-Token": token})
    assert response.status_code == 200


def test_token_auth_never_logs_the_token(token_env, caplog):
    caplog.set_level("DEBUG")
    token = token_env.add_token("alice", "ops", "admin")
    token_env.request("GET", "/v1/services", headers={"X-Auth-Token": token})
    token_env.request("GET", "/v1/services",
                      headers={"X-Auth-Token": token + "x"})
    assert token not in caplog.text


def test_token_auth_leaves_versions_and_healthcheck_open(token_env):
    assert token_env.request("GET", "/").status_code == 200
    assert token_env.request("GET", "/healthcheck").status_code == 200


def test_noauth_missing_identity_answers_401(noauth_env):
    assert_error(noauth_env.request("GET", "/v1/services",
                                    headers={"X-Roles": "admin"}), 401)


def test_noauth_non_admin_answers_403(noauth_env):
    service_id = noauth_env.add_service()
    assert_error(noauth_env.request("GET", "/v1/services", headers=MEMBER),
                 403)
    assert_error(noauth_env.request("PUT", f"/v1/services/{service_id}",
                                    {"status": "enabled"}, headers=MEMBER),
                 403)
    assert_error(noauth_env.request("DELETE", f"/v1/services/{service_id}",
                                    headers=MEMBER), 403)


def test_noauth_non_admin_403_before_id_lookup(noauth_env):
    # Policy first: a non-admin cannot probe which ids exist.
    assert_error(noauth_env.request("DELETE", "/v1/services/4242",
                                    headers=MEMBER), 403)


def test_policy_file_override_changes_a_rule(noauth_env, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"services:list": "role:reader"\n')
    reader = dict(MEMBER, **{"X-Roles": "reader"})
    assert noauth_env.request("GET", "/v1/services",
                              headers=reader).status_code == 200
    assert_error(noauth_env.request("GET", "/v1/services", headers=ADMIN),
                 403)


def test_policy_file_change_is_picked_up_while_running(noauth_env,
                                                       tmp_path):
    assert_error(noauth_env.request("GET", "/v1/services", headers=MEMBER),
                 403)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"services:list": "@"\n')
    stamp = os.stat(policy_file).st_mtime + 5
    os.utime(policy_file, (stamp, stamp))
    # Cached decisions follow the file within policy.CHECK_INTERVAL; the
    # deadline bounds the wait, it does not measure it.
    deadline = time.monotonic() + policy.CHECK_INTERVAL + 10
    while noauth_env.request("GET", "/v1/services",
                             headers=MEMBER).status_code != 200:
        assert time.monotonic() < deadline, "policy change not picked up"
        time.sleep(0.1)
