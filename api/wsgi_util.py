"""Request parsing and response building shared by the API's apps.

Parsing is strict: a body must be a JSON object sent as
``application/json`` in UTF-8, without NUL characters; query strings may
only carry the parameters an action names. Errors are raised, never
answered here: ``faultwrap`` turns them into the JSON error body.
"""
from __future__ import annotations

import http
import json
from typing import Any, Iterable

import webob
from oslo_middleware import request_id as oslo_request_id

from capstan.common import exception
from capstan.common.context import RequestContext

# environ keys set by the paste filters (see etc/api-paste.ini).
IDENTITY_KEY = "capstan.identity"          # auth filter: an auth.Identity
CONTEXT_KEY = "capstan.context"            # context filter: RequestContext
REQUEST_ID_KEY = oslo_request_id.ENV_REQUEST_ID  # request_id filter

JSON_TYPE = "application/json"


class HTTPError(Exception):
    """An error of the HTTP layer itself: no route (404), wrong method
    (405), wrong media type (415). ``faultwrap`` answers it with ``code``.

    NOTE(capstan): deliberately not a webob.exc class. oslo.middleware's
    filters are wrapped in ``webob.dec.wsgify``, which catches a webob
    exception on its way out and renders it as HTML or webob's own JSON,
    losing the message; this exception reaches ``faultwrap`` intact.
    """

    def __init__(self, code: int, message: str,
                 headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = list(headers)


def json_response(body: Any, status: int = 200) -> webob.Response:
    """Return a response carrying ``body`` as JSON."""
    return webob.Response(status=status, content_type=JSON_TYPE,
                          charset="UTF-8",
                          body=json.dumps(body).encode("utf-8"))


def empty_response(status: int = 204) -> webob.Response:
    """Return a response without a body (204 No Content by default)."""
    response = webob.Response(status=status)
    del response.content_type
    return response


def error_body(code: int, message: str,
               request_id: str | None) -> dict[str, Any]:
    """Return the error document every failed request answers with."""
    return {"error": {"code": code, "title": status_title(code),
                      "message": message, "request_id": request_id}}


def status_title(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def request_id_of(environ: dict) -> str | None:
    return environ.get(REQUEST_ID_KEY)


def context_of(req: webob.Request) -> RequestContext:
    """Return the RequestContext the ``context`` filter stored."""
    ctx = req.environ.get(CONTEXT_KEY)
    if ctx is None:
        # A server error, not the client's: the pipeline lacks the filter.
        raise RuntimeError("no request context in the WSGI environ; is the "
                           "'context' filter in the paste pipeline?")
    return ctx


def mark_chunked_body_readable(environ: dict) -> None:
    """Let WebOb read a chunked request body.

    NOTE(capstan): without a Content-Length, WebOb reads a body only when
    the server sets ``wsgi.input_terminated``; eventlet.wsgi de-chunks the
    input (it ends at the last chunk) but does not set the flag, so WebOb
    -- and oslo.middleware's sizelimit -- would see an empty body.
    """
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if "CONTENT_LENGTH" not in environ and "chunked" in encoding:
        environ.setdefault("wsgi.input_terminated", True)


def read_json_object(req: webob.Request) -> dict[str, Any]:
    """Return the request body, which must be one JSON object.

    Raises ``Invalid`` (400) for a missing, malformed or non-object body,
    one with a repeated key, NUL characters or invalid UTF-8, or one that
    cannot be read (bad chunked framing), and HTTPError 415 for a body
    that is not ``application/json``. An oversized body fails with 413 in
    the ``sizelimit`` filter while it is read.
    """
    mark_chunked_body_readable(req.environ)
    try:
        raw = req.body
    except (ValueError, OSError) as exc:
        # eventlet's ChunkReadError (a ValueError) for a malformed chunked
        # body; OSError when the client closes or stalls mid-body.
        raise exception.Invalid(f"The body could not be read: "
                                f"{_first_line(exc)}") from None
    if not raw:
        raise exception.Invalid("This request needs a JSON body.")
    _check_content_type(req)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise exception.Invalid("The body is not valid UTF-8.") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant,
                           object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise exception.Invalid(f"The body is not valid JSON: "
                                f"{_first_line(exc)}") from None
    if not isinstance(value, dict):
        raise exception.Invalid("The body must be a JSON object.")
    _check_strings(value)
    return value


def _check_content_type(req: webob.Request) -> None:
    charset = (req.charset or "utf-8").lower().replace("-", "")
    if req.content_type != JSON_TYPE or charset != "utf8":
        sent = req.content_type or "no Content-Type"
        raise HTTPError(415, f"Send the body as {JSON_TYPE} (UTF-8), not "
                             f"{sent}.")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key is ambiguous: json keeps the last, another reader
    # (a proxy, a log scanner) may act on the first.
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise ValueError(f"key {key!r} is repeated")
        value[key] = item
    return value


def _check_strings(value: Any) -> None:
    """Reject NUL characters and lone surrogates anywhere in ``value``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _check_string(item)


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise exception.Invalid("NUL characters are not allowed.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise exception.Invalid("The body is not valid UTF-8 (a lone "
                                "surrogate escape).") from None


def query_params(req: webob.Request,
                 allowed: Iterable[str]) -> dict[str, str]:
    """Return the query parameters, each at most once and all ``allowed``.

    Raises ``Invalid`` (400) for an unknown or repeated parameter, invalid
    UTF-8 or a NUL character.
    """
    allowed = set(allowed)
    try:
        items = list(req.GET.items())
    except UnicodeDecodeError:
        raise exception.Invalid("The query string is not valid UTF-8.") \
            from None
    params: dict[str, str] = {}
    for key, value in items:
        if key not in allowed:
            raise exception.Invalid(
                f"Unknown query parameter {key!r}; use "
                f"{', '.join(sorted(allowed)) or 'none'}.")
        if key in params:
            raise exception.Invalid(f"Query parameter {key!r} is repeated.")
        _check_string(value)
        params[key] = value
    return params


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
