"""oslo.middleware's request id and body size limit, as plain WSGI.

NOTE(capstan): oslo.middleware's RequestId and RequestBodySizeLimiter are
``webob.dec.wsgify`` classes: each builds a webob Request and Response per
request and buffers the answer, ~45 us apiece of a ~330 us GET /v1
(docs/benchmarks.md, benchmark 1). These are the same behaviour -- the
same environ keys, id format, response header, inbound global request id
check, 413 and LimitingReader -- without the round trip through WebOb.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable

import webob.exc
from oslo_context import context as oslo_context
from oslo_middleware import request_id, sizelimit

from capstan.api import wsgi_util

# Same default as oslo.middleware: 112 KiB.
DEFAULT_MAX_REQUEST_BODY_SIZE = 114688


_INBOUND = "HTTP_" + request_id.INBOUND_HEADER.upper().replace("-", "_")
_ID_FORMAT = re.compile(request_id.ID_FORMAT)
_HEADER = request_id.HTTP_RESP_HEADER_REQUEST_ID


def build_request_id(application: Callable) -> Callable:
    """Give each request an id (``x-openstack-request-id`` on responses)."""

    def add_request_id(environ: dict,
                       start_response: Callable) -> Iterable[bytes]:
        inbound = environ.get(_INBOUND, "")
        if _ID_FORMAT.match(inbound):
            environ[request_id.GLOBAL_REQ_ID] = inbound
        req_id = oslo_context.generate_request_id()
        environ[request_id.ENV_REQUEST_ID] = req_id
        # NOTE(capstan): current from the first filter on, until the
        # context filter puts the caller's in its place: a request refused
        # before it (a 401, a 413) is logged with its own id, not with the
        # one the connection's previous request left current.
        oslo_context.RequestContext(
            request_id=req_id,
            global_request_id=environ.get(request_id.GLOBAL_REQ_ID),
            overwrite=True)

        def start(status: str, headers: list, exc_info=None):
            if not any(name.lower() == _HEADER for name, _ in headers):
                headers = [*headers, (_HEADER, req_id)]
            return start_response(status, headers, exc_info)
        return application(environ, start)
    return add_request_id


def build_sizelimit(application: Callable,
                    max_request_body_size: int) -> Callable:
    """Answer 413 to bodies larger than ``max_request_body_size`` bytes."""

    def limit(environ: dict, start_response: Callable) -> Iterable[bytes]:
        # A chunked body would otherwise reach the limiter as empty.
        wsgi_util.mark_chunked_body_readable(environ)
        length = environ.get("CONTENT_LENGTH")
        if length:
            if int(length) > max_request_body_size:
                # Answered, not raised, as oslo.middleware's wsgify did;
                # faultwrap turns it into the JSON error document.
                return webob.exc.HTTPRequestEntityTooLarge(
                    explanation=f"Request is too large. Larger than "
                                f"max_request_body_size "
                                f"({max_request_body_size}).")(
                    environ, start_response)
        elif "wsgi.input" in environ:
            environ["wsgi.input"] = sizelimit.LimitingReader(
                environ["wsgi.input"], max_request_body_size)
        return application(environ, start_response)
    return limit
