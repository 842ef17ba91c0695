"""/v1/volumes: create, list, show, delete and extend volumes.

Volumes are owner-or-admin (policy ``volumes:*``): a caller sees the
volumes of its own project, an admin those of every project; another
project's volume answers 404, as if it did not exist. Bodies and queries
are parsed by :mod:`api.v1.volumes_validation`; the database and the casts
are :class:`~api.volume_api.VolumeOperations`' job. Every write answers
202: the work happens in the workers, and the volume's ``status`` tells
when it is done.
"""
from __future__ import annotations

import dataclasses
import datetime
import urllib.parse
from typing import Any

import webob

from capstan.api import wsgi_util
from capstan.api.deps import APIDeps
from capstan.api.policy import Policy
from capstan_volumes.api import validation
from capstan_volumes.api.volume_api import VolumeOperations
from capstan.common import exception
from capstan_volumes import models as volume_models


class VolumesController:
    """Volumes as REST resources."""

    def __init__(self, deps: APIDeps, policy: Policy,
                 operations: VolumeOperations | None = None) -> None:
        self.policy = policy
        self.volumes = operations or VolumeOperations.from_deps(deps)

    def index(self, req: webob.Request) -> webob.Response:
        """GET /v1/volumes[?status=&name=&host=&limit=&marker=&sort_key=
        &sort_dir=]: one page, and a ``next`` link when it is full."""
        context = wsgi_util.context_of(req)
        self.policy.authorize(context, "volumes:get_all")
        params = wsgi_util.query_params(req, validation.LIST_PARAMS)
        query = validation.parse_list_query(params)
        if "host" in query.filters and not context.is_admin:
            raise exception.Invalid("Only an admin may filter by host.")
        rows = self.volumes.list(context, **dataclasses.asdict(query))
        body: dict[str, Any] = {"volumes": [view(row) for row in rows]}
        if len(rows) == query.limit:
            body["next"] = _next_url(req, params, rows[-1].id)
        return wsgi_util.json_response(body)

    def create(self, req: webob.Request) -> webob.Response:
        """POST /v1/volumes: the row now, the volume later (202)."""
        context = wsgi_util.context_of(req)
        self.policy.authorize(context, "volumes:create")
        request = validation.parse_create(wsgi_util.read_json_object(req))
        volume = self.volumes.create(context, **dataclasses.asdict(request))
        response = wsgi_util.json_response({"volume": view(volume)},
                                           status=202)
        response.location = f"{req.path_url}/{volume.id}"
        return response

    def show(self, req: webob.Request, id: str) -> webob.Response:
        """GET /v1/volumes/{id}"""
        volume = self._volume(req, id, "volumes:get")
        return wsgi_util.json_response({"volume": view(volume)})

    def delete(self, req: webob.Request, id: str) -> webob.Response:
        """DELETE /v1/volumes/{id}: 409 while the volume is busy."""
        volume = self._volume(req, id, "volumes:delete")
        self.volumes.delete(wsgi_util.context_of(req), volume)
        return wsgi_util.empty_response(202)

    def action(self, req: webob.Request, id: str) -> webob.Response:
        """POST /v1/volumes/{id}/action: ``{"extend": {"new_size": N}}``."""
        _action, new_size = validation.parse_action(
            wsgi_util.read_json_object(req))
        volume = self._volume(req, id, "volumes:extend")
        self.volumes.extend(wsgi_util.context_of(req), volume, new_size)
        return wsgi_util.empty_response(202)

    def _volume(self, req: webob.Request, raw_id: str,
                rule: str) -> volume_models.Volume:
        """The volume named in the URL, if the caller may see it and
        ``rule`` allows the caller on it."""
        context = wsgi_util.context_of(req)
        volume = self.volumes.get(context, validation.volume_id(raw_id))
        self.policy.authorize(context, rule,
                              {"project_id": volume.project_id,
                               "user_id": volume.user_id})
        return volume


def view(volume: volume_models.Volume) -> dict[str, Any]:
    """The JSON document of a volume (DESIGN.md section 3)."""
    return {
        "id": volume.id,
        # Stored as "" when unnamed (see VolumeOperations.create).
        "name": volume.name or None,
        "size": volume.size,
        "status": volume.status,
        "host": volume.host,
        "availability_zone": volume.availability_zone,
        "project_id": volume.project_id,
        "user_id": volume.user_id,
        "metadata": dict(volume.meta or {}),
        "export_location": volume.export_location,
        "fault": volume.fault,
        "created_at": _iso8601(volume.created_at),
        "updated_at": _iso8601(volume.updated_at),
    }


def _next_url(req: webob.Request, params: dict[str, str],
              last_id: str) -> str:
    """The same query, continued after ``last_id``."""
    query = dict(params, marker=last_id)
    return f"{req.path_url}?{urllib.parse.urlencode(query)}"


def _iso8601(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).isoformat()
    # Stored naive UTC; the same text as .replace(tzinfo=utc).isoformat(),
    # without building a second datetime per value.
    return value.isoformat() + "+00:00"
