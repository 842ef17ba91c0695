"""/v1/services: list, enable/disable/force down, and delete service records.

Admin only (policy ``services:*``). ``state`` is computed here from the
heartbeat (``common.records.is_up`` with ``[DEFAULT] service_down_time``);
``status`` is the operator's enabled/disabled flag. Enabling or disabling
never touches ``last_seen_up``: only the heartbeat writes it.
"""
from __future__ import annotations

import datetime
from typing import Any

import webob

from capstan.api import wsgi_util
from capstan.api.deps import APIDeps
from capstan.api.policy import Policy
from capstan.common import exception, records
from capstan.common.db import models

FILTERS = ("host", "binary", "topic")
STATUSES = ("enabled", "disabled")
MAX_REASON = 255
# Service ids are 32-bit integers in the database; larger ones cannot exist.
MAX_ID = 2**31 - 1


class ServicesController:
    """Service records as REST resources."""

    def __init__(self, deps: APIDeps, policy: Policy) -> None:
        self.deps = deps
        self.policy = policy

    def index(self, req: webob.Request) -> webob.Response:
        """GET /v1/services[?host=&binary=&topic=]"""
        self.policy.authorize(wsgi_util.context_of(req), "services:list")
        filters = wsgi_util.query_params(req, FILTERS)
        rows = self.deps.services.get_all(**filters)
        now = self.deps.db.now()
        # Read once per request, not once per row (10,000 oslo.config
        # lookups cost ~7 ms); a SIGHUP still takes effect at the next one.
        since = records.up_since(now, self.deps.conf.service_down_time)
        return wsgi_util.json_response(
            {"services": [self._view(row, since) for row in rows]})

    def update(self, req: webob.Request, id: str) -> webob.Response:
        """PUT /v1/services/{id}: status (+ reason) or forced_down."""
        self.policy.authorize(wsgi_util.context_of(req), "services:update")
        service_id = _service_id(id)
        values = update_values(wsgi_util.read_json_object(req))
        row = self.deps.services.update(service_id, **values)
        return wsgi_util.json_response(
            {"service": self._view(row, records.up_since(
                self.deps.db.now(), self.deps.conf.service_down_time))})

    def delete(self, req: webob.Request, id: str) -> webob.Response:
        """DELETE /v1/services/{id}: only once the service is down."""
        self.policy.authorize(wsgi_util.context_of(req), "services:delete")
        service_id = _service_id(id)
        row = self.deps.services.get(service_id)
        if self._is_up(row, self.deps.db.now()):
            raise exception.ServiceIsUp(service_id=service_id)
        self.deps.services.destroy(service_id)
        return wsgi_util.empty_response(204)

    def _is_up(self, row: models.Service, now: datetime.datetime) -> bool:
        # Read per request: a SIGHUP may have changed service_down_time.
        return records.is_up(
            row, now=now, service_down_time=self.deps.conf.service_down_time)

    def _view(self, row: models.Service,
              up_since: datetime.datetime) -> dict[str, Any]:
        return {
            "id": row.id,
            "host": row.host,
            "binary": row.binary,
            "topic": row.topic,
            "status": "disabled" if row.disabled else "enabled",
            "state": "up" if records.is_up_since(row, up_since) else "down",
            "disabled_reason": row.disabled_reason,
            "forced_down": row.forced_down,
            "last_seen_up": _iso8601(row.last_seen_up),
            "report_count": row.report_count,
        }


def update_values(body: dict[str, Any]) -> dict[str, Any]:
    """Turn a PUT body into the columns to set; raise Invalid if it is off.

    Accepted: ``{"status": "enabled"}``, ``{"status": "disabled",
    "disabled_reason"?: str|null}`` or ``{"forced_down": bool}``.
    """
    keys = set(body)
    if keys == {"forced_down"}:
        if not isinstance(body["forced_down"], bool):
            raise exception.Invalid("forced_down must be true or false.")
        return {"forced_down": body["forced_down"]}
    if "status" not in keys or not keys <= {"status", "disabled_reason"}:
        raise exception.Invalid(
            "Send {\"status\": \"enabled\"|\"disabled\", "
            "\"disabled_reason\"?: str} or {\"forced_down\": bool}; got "
            f"keys {sorted(keys)}.")
    status = body["status"]
    if status not in STATUSES:
        raise exception.Invalid("status must be \"enabled\" or "
                                "\"disabled\".")
    if status == "enabled":
        if body.get("disabled_reason") is not None:
            raise exception.Invalid("disabled_reason goes with "
                                    "\"disabled\" only.")
        return {"disabled": False, "disabled_reason": None}
    return {"disabled": True,
            "disabled_reason": _reason(body.get("disabled_reason"))}


def _reason(reason: Any) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise exception.Invalid(f"disabled_reason must be a string of at "
                                f"most {MAX_REASON} characters.")
    return reason.strip() or None


def _service_id(raw: str) -> int:
    # The route admits only digits; an id out of the column's range cannot
    # name a service, so it is "not found" like any other unknown id.
    service_id = int(raw)
    if service_id > MAX_ID:
        raise exception.ServiceNotFound(service_id=raw)
    return service_id


def _iso8601(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    # Stored naive UTC; the same text as .replace(tzinfo=utc).isoformat(),
    # without building a second datetime per value.
    return value.isoformat() + "+00:00"
