"""The context filter builds the RequestContext from the identity only."""
from __future__ import annotations

import pytest
import webob

from capstan.api import wsgi_util
from capstan.api.middleware.auth import Identity
from capstan.api.middleware.context import ContextMiddleware
from capstan.common import exception

REQUEST_ID = "req-11111111-1111-1111-1111-111111111111"
GLOBAL_ID = "req-22222222-2222-2222-2222-222222222222"


def context_for(environ_extra: dict, headers=None):
    seen = {}

    def app(environ, start_response):
        seen["context"] = environ[wsgi_util.CONTEXT_KEY]
        return webob.Response()(environ, start_response)
    req = webob.Request.blank("/", headers=headers or {})
    req.environ.update(environ_extra)
    req.get_response(ContextMiddleware(app))
    return seen["context"]


def test_context_built_from_identity_and_request_ids():
    context = context_for({
        wsgi_util.IDENTITY_KEY: Identity("u", "p", ("admin",)),
        "openstack.request_id": REQUEST_ID,
        "openstack.global_request_id": GLOBAL_ID})
    assert (context.user_id, context.project_id) == ("u", "p")
    assert context.roles == ["admin"] and context.is_admin
    assert context.request_id == REQUEST_ID
    assert context.global_request_id == GLOBAL_ID


def test_context_ignores_identity_headers():
    context = context_for({wsgi_util.IDENTITY_KEY: Identity("u", "p")},
                          headers={"X-Roles": "admin", "X-User-Id": "root"})
    assert context.user_id == "u" and not context.is_admin


def test_context_without_identity_raises_not_authorized():
    with pytest.raises(exception.NotAuthorized):
        context_for({})
