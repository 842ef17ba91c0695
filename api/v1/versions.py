"""GET / (every API version) and GET /v1 (this version)."""
from __future__ import annotations

import webob

from capstan.api import wsgi_util

V1 = {"id": "v1", "status": "CURRENT"}


def _version(base_url: str) -> dict:
    return dict(V1, links=[{"rel": "self", "href": base_url + "/"}])


class VersionsController:
    """The version documents; they need no collaborators."""

    def index(self, req: webob.Request) -> webob.Response:
        """GET /: the versions this server speaks."""
        base = req.application_url.rstrip("/")
        return wsgi_util.json_response(
            {"versions": [_version(base + "/v1")]})

    def show(self, req: webob.Request) -> webob.Response:
        """GET /v1: this version (the app is mounted at /v1)."""
        return wsgi_util.json_response(
            {"version": _version(req.application_url.rstrip("/"))})
