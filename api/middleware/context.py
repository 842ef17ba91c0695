"""``context``: build the RequestContext of a request.

It reads only what the filters before it set: the :class:`Identity` of the
auth filter and the request ids of ``request_id``; never a header. The
context lands in ``environ["capstan.context"]`` and becomes the green
thread's current context, so log lines show the request id.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from oslo_middleware import request_id as oslo_request_id

from capstan.api import wsgi_util
from capstan.common import exception
from capstan.common.context import RequestContext

StartResponse = Callable[..., Any]


class ContextMiddleware:
    """Store a RequestContext for the authenticated caller in the environ."""

    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict,
                 start_response: StartResponse) -> Iterable[bytes]:
        identity = environ.get(wsgi_util.IDENTITY_KEY)
        if identity is None:
            # No auth filter ran: refuse rather than serve anonymously.
            raise exception.NotAuthorized("No authenticated identity.")
        environ[wsgi_util.CONTEXT_KEY] = RequestContext(
            user_id=identity.user_id,
            project_id=identity.project_id,
            roles=list(identity.roles),
            request_id=environ.get(oslo_request_id.ENV_REQUEST_ID),
            global_request_id=environ.get(oslo_request_id.GLOBAL_REQ_ID),
            overwrite=True)
        return self.application(environ, start_response)
