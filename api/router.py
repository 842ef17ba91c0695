"""URL -> controller method, with explicit ``connect()`` lines.

An unknown path raises 404; a known path with a method it does not take
raises 405 with an ``Allow`` header. ``faultwrap`` renders both as JSON.

The framework connects its own resources (versions, services, host
aggregates) and each application's declared resources
(``capstan.api.resource.Resource.connect``); an application connects any
other route in its declaration's ``add_routes(mapper, deps, policy)``: a
controller that takes ``deps`` and ``policy`` in its constructor, and one
``mapper.connect(path, handler=controller.method, conditions=GET)`` line
per method and path.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import routes
import routes.middleware
import webob

from capstan.api import openapi, wsgi_util
from capstan.api.deps import APIDeps
from capstan.api.policy import build_policy
from capstan.api.v1.aggregates import AggregatesController
from capstan.api.v1.services import ServicesController
from capstan.api.v1.versions import VersionsController

GET = {"method": ["GET"]}
POST = {"method": ["POST"]}
PUT = {"method": ["PUT"]}
DELETE = {"method": ["DELETE"]}
ID = {"id": r"[0-9]+"}

StartResponse = Callable[..., Any]


class Router:
    """Dispatch each request to its ``handler(req, **url_vars)``.

    Routes are connected with ``handler=controller.method``: Routes keeps a
    callable default as it is (it would turn any other object into a str).
    """

    def __init__(self, mapper: routes.Mapper) -> None:
        self.mapper = mapper
        # No "_method" override and no thread-local routes config: the
        # method is the one on the wire and the match lives in the environ.
        self._routes = routes.middleware.RoutesMiddleware(
            self._dispatch, mapper, use_method_override=False,
            singleton=False)

    def __call__(self, environ: dict,
                 start_response: StartResponse) -> Iterable[bytes]:
        if not environ.get("PATH_INFO"):
            environ["PATH_INFO"] = "/"  # "/v1" arrives as "" under urlmap
        return self._routes(environ, start_response)

    def _dispatch(self, environ: dict,
                  start_response: StartResponse) -> Iterable[bytes]:
        match = dict(environ["wsgiorg.routing_args"][1])
        if not match:
            raise self._no_route(environ)
        handler = match.pop("handler")
        response = handler(webob.Request(environ), **match)
        return response(environ, start_response)

    def _no_route(self, environ: dict) -> wsgi_util.HTTPError:
        path = environ["PATH_INFO"]
        allowed = sorted({method
                          for route in self.mapper.matchlist
                          if route.match(path)
                          for method in route.conditions["method"]})
        if not allowed:
            return wsgi_util.HTTPError(404,
                                       f"No resource at {_shown(environ)}.")
        return wsgi_util.HTTPError(
            405, f"{environ['REQUEST_METHOD']} is not allowed on "
                 f"{_shown(environ)}; use {', '.join(allowed)}.",
            headers=[("Allow", ", ".join(allowed))])


def _shown(environ: dict) -> str:
    return (environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"]) or "/"


def routes_mapper() -> routes.Mapper:
    # register=False keeps the mapper out of routes' thread-local config.
    return routes.Mapper(register=False)


def build_versions_app(deps: APIDeps) -> Router:
    """The app at ``/``: the list of API versions."""
    mapper = routes_mapper()
    mapper.connect("/", handler=VersionsController().index, conditions=GET)
    return Router(mapper)


def _connect_aggregates(mapper: routes.Mapper,
                        aggregates: AggregatesController) -> None:
    # "os-aggregates", nova's path, so that clients written for it fit.
    mapper.connect("/os-aggregates", handler=aggregates.index, conditions=GET)
    mapper.connect("/os-aggregates", handler=aggregates.create,
                   conditions=POST)
    mapper.connect("/os-aggregates/{id}", handler=aggregates.show,
                   conditions=GET, requirements=ID)
    mapper.connect("/os-aggregates/{id}", handler=aggregates.delete,
                   conditions=DELETE, requirements=ID)
    mapper.connect("/os-aggregates/{id}/action", handler=aggregates.action,
                   conditions=POST, requirements=ID)


class OpenAPIController:
    """GET /v1/openapi.json: the document, built on the first request.

    NOTE(capstan): not at start-up: generating it takes ~60 ms (the
    schemas' JSON Schema), paid by every api-server process for an
    endpoint few clients call. Two first requests at once both build the
    same bytes; either is kept.
    """

    def __init__(self, applications: Iterable[Any]) -> None:
        self._applications = list(applications)
        self._body: bytes | None = None

    def show(self, req: webob.Request) -> webob.Response:
        if self._body is None:
            self._body = openapi.render_json(
                openapi.build_document(self._applications))
        return webob.Response(body=self._body, charset="UTF-8",
                              content_type=wsgi_util.JSON_TYPE)


def build_v1_app(deps: APIDeps) -> Router:
    """The app at ``/v1``, behind the auth and context filters."""
    policy = build_policy(deps.conf, [
        rule for application in deps.applications
        for rule in application.list_policies()])
    versions = VersionsController()
    services = ServicesController(deps, policy)
    mapper = routes_mapper()
    mapper.connect("/", handler=versions.show, conditions=GET)
    mapper.connect("/services", handler=services.index, conditions=GET)
    mapper.connect("/services/{id}", handler=services.update, conditions=PUT,
                   requirements=ID)
    mapper.connect("/services/{id}", handler=services.delete,
                   conditions=DELETE, requirements=ID)
    _connect_aggregates(mapper, AggregatesController(deps, policy))
    mapper.connect("/openapi.json", conditions=GET,
                   handler=OpenAPIController(deps.applications).show)
    for application in deps.applications:
        for resource in application.list_resources():
            resource.connect(mapper, deps, policy)
        if application.add_routes is not None:
            application.add_routes(mapper, deps, policy)
    return Router(mapper)
