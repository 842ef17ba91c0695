"""docs/openapi.yaml against the real routes: same operations, valid OpenAPI.

The routes are those of the Routes mappers that api/router.py and
api/healthcheck.py build (the builders the paste factories call), each
under the URL prefix etc/api-paste.ini's ``[composite:main]`` gives it.
"""
from __future__ import annotations

import json
import pathlib
from typing import Callable

import openapi_schema_validator
import openapi_spec_validator
import pytest
import webob
import yaml

from capstan.api import factories, healthcheck, openapi, router, wsgi_util
from capstan.api.deps import APIDeps
from capstan.common import config, rpc, wsgi_protocol
from capstan.common.db.api import Database

REPO = pathlib.Path(__file__).resolve().parents[2]
OPENAPI = REPO / "docs" / "openapi.yaml"
PASTE_INI = REPO / "etc" / "api-paste.ini"

# URL prefix (as in [composite:main]) -> the builder of the app there.
PREFIX_APPS: dict[str, Callable[[APIDeps], router.Router]] = {
    "/": router.build_versions_app,
    "/healthcheck": lambda deps: healthcheck.build_healthcheck_app(deps, 2),
    "/v1": router.build_v1_app,
}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
                "trace")


@pytest.fixture(scope="module")
def document() -> dict:
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))


@pytest.fixture
def deps(tmp_path):
    conf = config.make_conf()
    conf([])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("transport_url", "fake://")
    conf.set_override("connection", f"sqlite:///{tmp_path}/capstan.sqlite",
                      group="database")
    # An absolute path, so that no policy.yaml in ~ or /etc leaks in.
    conf.set_override("policy_file", str(tmp_path / "policy.yaml"),
                      group="oslo_policy")
    deps = APIDeps(conf=conf, db=Database(conf.database.connection),
                   transport=rpc.get_transport(conf))
    yield deps
    deps.transport.cleanup()
    deps.db.dispose()


def _join(prefix: str, path: str) -> str:
    joined = prefix.rstrip("/") + path
    return joined.rstrip("/") or "/"


def routed_operations(deps: APIDeps) -> set[tuple[str, str]]:
    """(path, method) of every route of every app, under its prefix."""
    operations = set()
    for prefix, build in PREFIX_APPS.items():
        for route in build(deps).mapper.matchlist:
            path = _join(prefix, route.routepath)
            operations.update((path, method.lower())
                              for method in route.conditions["method"])
    return operations


def documented_operations(document: dict) -> set[tuple[str, str]]:
    return {(path, method)
            for path, item in document["paths"].items()
            for method in item if method in HTTP_METHODS}


def test_openapi_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1.")
    openapi_spec_validator.validate(document)


def test_openapi_document_is_the_generated_one(deps):
    """docs/openapi.yaml is current: regenerate it with
    ``capstan-openapi docs/openapi.yaml`` after changing a schema."""
    generated = openapi.render_yaml(
        openapi.build_document(deps.applications))
    assert OPENAPI.read_text(encoding="utf-8") == generated


def test_openapi_served_document_is_the_generated_one(deps):
    app = router.build_v1_app(deps)
    response = webob.Request.blank("/openapi.json").get_response(app)
    assert response.status_int == 200
    assert response.content_type == "application/json"
    assert response.json_body == openapi.build_document(deps.applications)


def test_openapi_check_command_fails_on_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "openapi.yaml"
    stale.write_text("openapi: 3.1.0\n", encoding="utf-8")
    assert openapi.main(["--check", str(stale)]) == 1
    assert "not current" in capsys.readouterr().err
    assert openapi.main([str(stale)]) == 0
    assert openapi.main(["--check", str(stale)]) == 0


def test_openapi_resource_schemas_are_the_validating_ones(deps, document):
    """Every declared resource's create body is the schema its model
    generates: what the API validates with is what the document says."""
    schemas = document["components"]["schemas"]
    for application in deps.applications:
        for resource in application.list_resources():
            name = resource.create_schema.__name__
            assert schemas[name] == openapi.model_schemas(
                [resource.create_schema])[name]


def test_openapi_prefixes_are_those_of_the_paste_file(deps):
    urlmap = factories.load_app(str(PASTE_INI), "main", deps)
    assert {path or "/" for _domain, path in urlmap.keys()} == \
        set(PREFIX_APPS)


def test_openapi_every_route_is_documented(deps, document):
    missing = routed_operations(deps) - documented_operations(document)
    assert not missing, f"routed but not in docs/openapi.yaml: {missing}"


def test_openapi_every_documented_operation_is_routed(deps, document):
    extra = documented_operations(document) - routed_operations(deps)
    assert not extra, f"in docs/openapi.yaml but not routed: {extra}"


def test_openapi_only_v1_needs_a_token(document):
    assert document["security"] == [{"token": []}]
    scheme = document["components"]["securitySchemes"]["token"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey", "header", "X-Auth-Token")
    for path, method in documented_operations(document):
        operation = document["paths"][path][method]
        if path.startswith("/v1"):
            assert "security" not in operation, (path, method)
        else:
            assert operation["security"] == [], (path, method)


@pytest.mark.parametrize("body", [
    wsgi_util.error_body(404, "Volume x could not be found.", "req-1"),
    wsgi_util.error_body(503, "Unavailable.", None),
], ids=["app", "no request id"])
def test_openapi_error_schema_is_what_the_api_answers(document, body):
    _validate(document, "Error", body)


def test_openapi_error_schema_is_what_the_http_layer_answers(document):
    body = json.loads(wsgi_protocol.error_document(431, "Too many headers.",
                                                   "req-2"))
    _validate(document, "Error", body)


def _validate(document: dict, name: str, instance: object) -> None:
    schema = dict(document["components"]["schemas"][name],
                  components=document["components"])
    openapi_schema_validator.validate(
        instance, schema, cls=openapi_schema_validator.OAS31Validator)
