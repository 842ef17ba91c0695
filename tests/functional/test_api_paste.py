"""etc/api-paste.ini as an operator edits it, and load_app's errors."""
from __future__ import annotations

import re

import paste.deploy
import pytest

from capstan.api import factories
from capstan.common import exception
from tests.functional.api_env import ADMIN, PASTE_INI, APIEnv, assert_error

OVERSIZED = {"status": "disabled", "disabled_reason": "x" * 200_000}


def _edited(tmp_path, old: str, new: str, source: str = PASTE_INI) -> str:
    """Copy ``source`` to tmp_path/api-paste.ini with ``old`` replaced."""
    text = open(source, encoding="utf-8").read()
    assert old in text
    path = tmp_path / "api-paste.ini"
    path.write_text(text.replace(old, new))
    return str(path)


def _load_error(tmp_path, paste: str, name: str = "main") -> str:
    env = APIEnv(tmp_path)
    try:
        with pytest.raises(exception.PasteConfigError) as info:
            factories.load_app(paste, name, env.deps)
    finally:
        env.close()
    message = str(info.value)
    assert "\n" not in message
    return message


# -- the deps reach every factory -----------------------------------------


RECORDED = []


def recording_app_factory(global_conf, **local_conf):
    """A paste app factory that records what global_conf carried."""
    RECORDED.append(global_conf[factories.DEPS_KEY])
    return lambda environ, start_response: []


def test_load_app_passes_deps_object_to_factories(tmp_path):
    paste = tmp_path / "tiny.ini"
    paste.write_text(
        "[composite:main]\nuse = egg:Paste#urlmap\n/ = tiny\n"
        "[app:tiny]\npaste.app_factory = "
        "tests.functional.test_api_paste:recording_app_factory\n")
    deps = object()
    RECORDED.clear()
    factories.load_app(str(paste), "main", deps)
    assert RECORDED == [deps]


def test_plain_loadapp_cannot_carry_objects_in_global_conf(tmp_path):
    # Why load_app does not call paste.deploy.loadapp: it interpolates
    # global_conf values as strings. If this starts passing, PasteDeploy
    # changed and load_app could go back to loadapp.
    with pytest.raises(AttributeError):
        paste.deploy.loadapp("config:" + PASTE_INI, name="main",
                             global_conf={factories.DEPS_KEY: object()})


# -- operators edit the file --------------------------------------------


def test_paste_edit_removing_sizelimit_lets_big_bodies_through(tmp_path):
    env = APIEnv(tmp_path)
    service_id = env.add_service()
    assert_error(env.request("PUT", f"/v1/services/{service_id}", OVERSIZED,
                             headers=ADMIN), 413)
    env.close()

    paste = _edited(tmp_path, "faultwrap sizelimit noauth",
                    "faultwrap noauth")
    env = APIEnv(tmp_path, paste=paste)
    try:
        response = env.request("PUT", f"/v1/services/{service_id}",
                               OVERSIZED, headers=ADMIN)
    finally:
        env.close()
    # Past the size check, the body is judged on its content instead.
    assert "disabled_reason" in assert_error(response, 400)["message"]


def test_paste_edit_sizelimit_option_changes_the_limit(tmp_path):
    paste = _edited(tmp_path, "max_request_body_size = 114688",
                    "max_request_body_size = 16")
    env = APIEnv(tmp_path, paste=paste)
    try:
        service_id = env.add_service()
        response = env.request("PUT", f"/v1/services/{service_id}",
                               {"status": "enabled", "pad": "x" * 20},
                               headers=ADMIN)
    finally:
        env.close()
    assert_error(response, 413)


def tag_filter_factory(global_conf, **local_conf):
    """A filter an operator might add: it tags every response."""
    def make(app):
        def tagged(environ, start_response):
            def start(status, headers, exc_info=None):
                headers.append(("X-Tag", local_conf["tag"]))
                return start_response(status, headers, exc_info)
            return app(environ, start)
        return tagged
    return make


def test_paste_edit_adding_a_filter_takes_effect(tmp_path):
    paste = _edited(
        tmp_path, "[filter:request_id]",
        "[filter:tag]\npaste.filter_factory = "
        "tests.functional.test_api_paste:tag_filter_factory\ntag = seen\n\n"
        "[filter:request_id]")
    paste = _edited(tmp_path, "pipeline = request_id faultwrap versions_app",
                    "pipeline = tag request_id faultwrap versions_app",
                    source=paste)
    env = APIEnv(tmp_path, paste=paste)
    try:
        assert env.request("GET", "/").headers["X-Tag"] == "seen"
        assert "X-Tag" not in env.request("GET", "/healthcheck").headers
    finally:
        env.close()


def test_paste_auth_strategy_picks_the_pipeline(tmp_path):
    env = APIEnv(tmp_path, auth_strategy="token")
    try:
        assert_error(env.request("GET", "/v1/services", headers=ADMIN), 401)
    finally:
        env.close()


# -- broken files -------------------------------------------------------


def test_load_app_missing_app_name_names_file_and_app(tmp_path):
    message = _load_error(tmp_path, PASTE_INI, name="mian")
    assert PASTE_INI in message
    assert "[app:mian]" in message and "[composite:mian]" in message


def test_load_app_missing_filter_names_section_and_user(tmp_path):
    paste = _edited(tmp_path, "pipeline = request_id faultwrap versions_app",
                    "pipeline = request_id faultwrapper versions_app")
    message = _load_error(tmp_path, paste)
    assert paste in message
    assert "[filter:faultwrapper]" in message
    assert "[pipeline:versions]" in message


def test_load_app_unimportable_factory_names_section(tmp_path):
    paste = _edited(tmp_path, "capstan.api.factories:context_filter_factory",
                    "api.nowhere:context_filter_factory")
    message = _load_error(tmp_path, paste)
    assert re.search(r"\[filter:context\]: cannot import 'api.nowhere'",
                     message)


def test_load_app_missing_factory_function_names_section(tmp_path):
    paste = _edited(tmp_path, "capstan.api.factories:context_filter_factory",
                    "capstan.api.factories:no_such_factory")
    assert "[filter:context]" in _load_error(tmp_path, paste)


def test_load_app_bad_filter_option_names_section(tmp_path):
    paste = _edited(tmp_path, "max_request_body_size = 114688",
                    "max_request_body_size = lots")
    message = _load_error(tmp_path, paste)
    assert "[filter:sizelimit]" in message and "'lots'" in message


def test_load_app_unknown_option_names_section(tmp_path):
    paste = _edited(tmp_path, "timeout = 2", "timeout = 2\ntimout = 3")
    assert "[app:healthcheck_app]: unknown option(s) timout" in \
        _load_error(tmp_path, paste)


def test_load_app_missing_auth_pipeline_names_composite(tmp_path):
    paste = _edited(tmp_path, "noauth = request_id", "noauth_old = "
                    "request_id")
    assert "[composite:v1]" in _load_error(tmp_path, paste)


def test_load_app_broken_syntax_names_file_and_line(tmp_path):
    paste = tmp_path / "broken.ini"
    paste.write_text("pipeline = oops\n[composite:main]\n")
    message = _load_error(tmp_path, str(paste))
    assert str(paste) in message and "line 1" in message


def test_load_app_missing_file_names_file(tmp_path):
    missing = str(tmp_path / "nope.ini")
    message = _load_error(tmp_path, missing)
    assert missing in message
