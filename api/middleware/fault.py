"""``faultwrap``: the one place where exceptions become HTTP responses.

Checked in this order, most specific first::

    capstan.common.exception.NotFound            404
    capstan.common.exception.Invalid             400
    capstan.common.exception.Conflict            409
    capstan.common.exception.NotAuthorized       401
    capstan.common.exception.Forbidden           403
    capstan.common.exception.Overloaded          503  (its message, Retry-After)
    capstan.common.exception.ServiceUnavailable  503  (generic message; detail logged)
    oslo.messaging RemoteError,
      RPCVersionCapError, InvalidTarget  500  (a bug, not an outage)
    oslo.messaging MessagingException    503  (timeout, delivery, transport)
    capstan.api.wsgi_util.HTTPError              its own status (404/405 of the router,
                                              415 of body parsing)
    webob.exc.HTTPException              its own status (413 of sizelimit)
    anything else                        500  (generic message; traceback
                                               in the log only)

Every error answers ``{"error": {"code", "title", "message",
"request_id"}}``. An inner layer that *answers* with an error of another
shape is rewritten to this one with the same status: oslo.middleware's
filters are wrapped in ``webob.dec.wsgify``, which renders a webob
exception as HTML, text or webob's own JSON. So a client never sees HTML
or a traceback.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

import oslo_messaging
import webob
import webob.exc

from capstan.api import wsgi_util
from capstan.common import exception

LOG = logging.getLogger(__name__)

DOMAIN_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (exception.NotFound, 404),
    (exception.Invalid, 400),
    (exception.Conflict, 409),
    (exception.NotAuthorized, 401),
    (exception.Forbidden, 403),
)

# Programming errors that happen to travel through oslo.messaging.
MESSAGING_BUGS = (oslo_messaging.RemoteError,
                  oslo_messaging.RPCVersionCapError,
                  oslo_messaging.InvalidTarget)

UNAVAILABLE = ("A backend service (database or message bus) is "
               "unavailable; try again later.")
UNEXPECTED = ("An unexpected error occurred; report the request_id to the "
              "operator.")

# Headers of a webob HTTPException that matter to the client.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Location")

StartResponse = Callable[..., Any]


class FaultWrapper:
    """Turn whatever the inner app raises into a JSON error response."""

    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict,
                 start_response: StartResponse) -> Iterable[bytes]:
        # NOTE(capstan): plain WSGI on the way through; WebOb objects are
        # built only for an error. A webob Request plus get_response() on
        # every request cost ~35 us of a ~330 us GET /v1 (docs/benchmarks.md).
        started: list = []

        def capture(status: str, headers: list, exc_info=None):
            started[:] = [status, headers]
            return _no_write

        try:
            body = self.application(environ, capture)
            try:
                chunks = list(body)  # raises here if the app is lazy
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
        except webob.exc.HTTPRedirection as exc:
            return exc(environ, start_response)  # not an error: passes
        except Exception as exc:  # noqa: BLE001 - this is the catch-all
            req = webob.Request(environ)
            return fault_response(req, exc)(environ, start_response)
        status, headers = started
        if int(status[:3]) < 400:
            start_response(status, headers)
            return chunks
        response = webob.Response(status=status, headerlist=list(headers),
                                  app_iter=chunks)
        if not _is_ours(response):
            response = _rewrite(webob.Request(environ), response)
        return response(environ, start_response)


def _no_write(data: bytes) -> None:
    raise RuntimeError("faultwrap: the write() callable is not supported")


def fault_response(req: webob.Request, exc: Exception) -> webob.Response:
    """Return the JSON error response for ``exc`` raised by ``req``."""
    request_id = wsgi_util.request_id_of(req.environ)
    code, message = _classify(req, exc, request_id)
    response = wsgi_util.json_response(
        wsgi_util.error_body(code, message, request_id), status=code)
    if isinstance(exc, wsgi_util.HTTPError):
        response.headers.update(exc.headers)
    elif isinstance(exc, exception.Overloaded):
        response.headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, webob.exc.HTTPException):
        _keep_headers(exc, response)
    return response


def _classify(req: webob.Request, exc: Exception,
              request_id: str | None) -> tuple[int, str]:
    for kind, code in DOMAIN_STATUS:
        if isinstance(exc, kind):
            LOG.info("%s %s answered %d: %s", req.method, _path(req), code,
                     exc)
            return code, str(exc)
    if isinstance(exc, exception.Overloaded):
        # Nothing internal in it; the client should know why and when.
        LOG.info("%s %s answered 503: %s", req.method, _path(req), exc)
        return 503, str(exc)
    if isinstance(exc, exception.ServiceUnavailable) or (
            isinstance(exc, oslo_messaging.MessagingException)
            and not isinstance(exc, MESSAGING_BUGS)):
        # The detail may name internal hosts; it goes to the log only.
        LOG.warning("%s %s answered 503 (request %s): %s: %s", req.method,
                    _path(req), request_id, type(exc).__name__, exc)
        return 503, UNAVAILABLE
    if isinstance(exc, wsgi_util.HTTPError):
        LOG.info("%s %s answered %d: %s", req.method, _path(req), exc.code,
                 exc.message)
        return exc.code, exc.message
    if isinstance(exc, webob.exc.HTTPException):
        LOG.info("%s %s answered %d: %s", req.method, _path(req), exc.code,
                 _webob_message(exc))
        return exc.code, _webob_message(exc)
    LOG.exception("%s %s failed unexpectedly (request %s)", req.method,
                  _path(req), request_id)
    return 500, UNEXPECTED


def _path(req: webob.Request) -> str:
    """The path as received, for the log.

    NOTE(capstan): not ``req.path``, which decodes the path as UTF-8 and
    raises on a client's invalid bytes (``/v1/things/%FF``) -- here, while
    answering, that would escape as a bare 500 from eventlet.
    """
    environ = req.environ
    return environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")


def _webob_message(exc: webob.exc.WSGIHTTPException) -> str:
    return exc.detail or _default_message(exc.code)


def _default_message(code: int) -> str:
    cls = webob.exc.status_map.get(code)
    # Only messages a class states for itself: inherited ones are generic
    # ("malformed or otherwise incorrect") and would mislead.
    if cls is not None and "explanation" in vars(cls):
        return cls.explanation
    return wsgi_util.status_title(code)


def _is_ours(response: webob.Response) -> bool:
    """Whether an error response already has the capstan error body."""
    if response.content_type != wsgi_util.JSON_TYPE:
        return False
    try:
        body = response.json_body
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


def _rewrite(req: webob.Request, response: webob.Response) -> webob.Response:
    code = response.status_code
    request_id = wsgi_util.request_id_of(req.environ)
    LOG.info("%s %s answered %d from an inner layer", req.method, _path(req),
             code)
    rewritten = wsgi_util.json_response(
        wsgi_util.error_body(code, _default_message(code), request_id),
        status=code)
    _keep_headers(response, rewritten)
    return rewritten


def _keep_headers(source: webob.Response, target: webob.Response) -> None:
    for name in KEPT_HEADERS:
        if name in source.headers:
            target.headers[name] = source.headers[name]
