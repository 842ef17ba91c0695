"""Every error of the REST API: JSON body, right status, a request id."""
from __future__ import annotations

import pytest

from capstan.common import exception
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from tests.functional.api_env import ADMIN, APIEnv, assert_error


@pytest.fixture
def env(tmp_path):
    env = APIEnv(tmp_path)
    yield env
    env.close()


def test_api_unknown_path_answers_404(env):
    assert_error(env.request("GET", "/nothing/here"), 404)
    assert_error(env.request("GET", "/v1/nothing", headers=ADMIN), 404)


def test_api_unknown_v1_path_without_credentials_answers_401(env):
    # Under /v1 auth runs first: an anonymous caller learns nothing.
    assert_error(env.request("GET", "/v1/nothing"), 401)


def test_api_wrong_method_answers_405_with_allow(env):
    response = env.request("POST", "/v1/services", {}, headers=ADMIN)
    error = assert_error(response, 405)
    assert response.headers["Allow"] == "GET"
    assert "POST" in error["message"]


def test_api_wrong_method_on_item_lists_both_methods(env):
    response = env.request("GET", "/v1/services/1", headers=ADMIN)
    assert_error(response, 405)
    assert response.headers["Allow"] == "DELETE, PUT"


def test_api_wrong_method_on_root_answers_405(env):
    response = env.request("DELETE", "/")
    assert_error(response, 405)
    assert response.headers["Allow"] == "GET"


def test_api_malformed_json_answers_400(env):
    service_id = env.add_service()
    response = env.request("PUT", f"/v1/services/{service_id}",
                           b'{"status": ', headers=ADMIN)
    assert "not valid JSON" in assert_error(response, 400)["message"]


@pytest.mark.parametrize("body", [b"[]", b'"enabled"', b"42", b"null"])
def test_api_non_object_json_answers_400(env, body):
    service_id = env.add_service()
    response = env.request("PUT", f"/v1/services/{service_id}", body,
                           headers=ADMIN)
    assert "JSON object" in assert_error(response, 400)["message"]


def test_api_missing_body_answers_400(env):
    service_id = env.add_service()
    response = env.request("PUT", f"/v1/services/{service_id}",
                           headers=ADMIN)
    assert_error(response, 400)


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded",
    "application/json; charset=latin-1"])
def test_api_wrong_content_type_answers_415(env, content_type):
    service_id = env.add_service()
    response = env.request("PUT", f"/v1/services/{service_id}",
                           {"status": "enabled"}, headers=ADMIN,
                           content_type=content_type)
    assert_error(response, 415)


def test_api_json_content_type_with_utf8_charset_is_accepted(env):
    service_id = env.add_service()
    response = env.request("PUT", f"/v1/services/{service_id}",
                           {"status": "enabled"}, headers=ADMIN,
                           content_type="application/json; charset=UTF-8")
    assert response.status_code == 200


def test_api_oversized_body_answers_413(env):
    service_id = env.add_service()
    body = {"status": "disabled", "disabled_reason": "x" * 200_000}
    response = env.request("PUT", f"/v1/services/{service_id}", body,
                           headers=ADMIN)
    assert_error(response, 413)


@pytest.mark.parametrize("body", [
    b'{"status": "disabled", "disabled_reason": "a\x00b"}',
    b'{"status": "disabled", "disabled_reason": "a\\u0000b"}',
    b'{"status": "disabled", "disabled_reason": "\xff\xfe"}',
    b'{"status": "disabled", "disabled_reason": "\\ud800"}',
    b'{"status": NaN}',
])
def test_api_nul_or_invalid_utf8_answers_400(env, body):
    service_id = env.add_service()
    response = env.request("PUT", f"/v1/services/{service_id}", body,
                           headers=ADMIN)
    assert_error(response, 400)


@pytest.mark.parametrize("path", [
    "/v1/services/abc", "/v1/services/-1", "/v1/services/1.5",
    "/v1/services/99999999999999999999"])
def test_api_bad_service_id_answers_404(env, path):
    assert_error(env.request("DELETE", path, headers=ADMIN), 404)


def test_api_unknown_service_id_answers_404(env):
    assert_error(env.request("DELETE", "/v1/services/4242", headers=ADMIN),
                 404)


def test_api_unknown_query_parameter_answers_400(env):
    response = env.request("GET", "/v1/services?hots=x", headers=ADMIN)
    assert "hots" in assert_error(response, 400)["message"]


class RaisingServices(Services):
    """Service queries whose list raises what the test gives it."""

    def __init__(self, db: Database, error: Exception) -> None:
        super().__init__(db)
        self.error = error

    def get_all(self, **filters):
        raise self.error


@pytest.mark.parametrize("error, code", [
    (exception.ServiceNotFound(service_id=7), 404),
    (exception.Invalid("bad filter"), 400),
    (exception.ServiceIsUp(service_id=7), 409),
    (exception.NotAuthorized(), 401),
    (exception.Forbidden(), 403),
    (exception.ServiceUnavailable("db at 10.0.0.5 gone"), 503),
])
def test_api_domain_exception_in_controller_maps_status(tmp_path, error,
                                                        code):
    db = Database(f"sqlite:///{tmp_path}/x.sqlite")
    env = APIEnv(tmp_path, db=db, services=RaisingServices(db, error))
    try:
        error_body = assert_error(
            env.request("GET", "/v1/services", headers=ADMIN), code)
    finally:
        env.close()
    assert "10.0.0.5" not in error_body["message"]


def test_api_unexpected_exception_answers_generic_500(tmp_path, caplog):
    db = Database(f"sqlite:///{tmp_path}/x.sqlite")
    env = APIEnv(tmp_path, db=db, services=RaisingServices(
        db, RuntimeError("secret internals")))
    try:
        response = env.request("GET", "/v1/services", headers=ADMIN)
    finally:
        env.close()
    error = assert_error(response, 500)
    assert "secret internals" not in response.text
    assert error["request_id"] in caplog.text
    assert "Traceback" in caplog.text and "secret internals" in caplog.text


def test_api_unreachable_database_answers_503(tmp_path):
    env = APIEnv(tmp_path, db=Database(
        f"sqlite:///{tmp_path}/no/such/dir/capstan.sqlite"))
    try:
        response = env.request("GET", "/v1/services", headers=ADMIN)
    finally:
        env.close()
    assert_error(response, 503)

