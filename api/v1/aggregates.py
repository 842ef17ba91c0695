"""/v1/os-aggregates: host aggregates and their availability zones.

Admin only (policy ``aggregates:*``). An aggregate groups hosts under a
name, an optional availability zone and string metadata; the schedulers
place by them (the zone overrides the one a host reports, and the
``aggregate_metadata`` scheduler hint matches the metadata).

After every change the controller fans the whole set of aggregates out
to the schedulers (:class:`capstan.api.scheduler_rpcapi.SchedulerAPI`).
The change is committed first and stays when the cast cannot be sent: the
schedulers also re-read the aggregates periodically, so a lost fanout
only delays it.
"""
from __future__ import annotations

import datetime
import logging
from typing import Any

import webob

from capstan.api import scheduler_rpcapi, wsgi_util
from capstan.api.deps import APIDeps
from capstan.api.policy import Policy
from capstan.common import application, exception, rpc
from capstan.common.context import RequestContext
from capstan.common.db.aggregates import Aggregate

LOG = logging.getLogger(__name__)

MAX_STRING = 255
MAX_METADATA_ITEMS = 64
# Aggregate ids are 32-bit integers in the database; larger ones cannot exist.
MAX_ID = 2**31 - 1
CREATE_FIELDS = ("name", "availability_zone", "metadata")
ACTIONS = ("add_host", "remove_host", "set_metadata")


class AggregatesController:
    """Host aggregates as REST resources.

    ``scheduler_api`` is anything with ``update_aggregates(context,
    aggregates)``; by default the fanout client of the applications'
    scheduler topics, with the API's finite retry.
    """

    def __init__(self, deps: APIDeps, policy: Policy, *,
                 scheduler_api: Any = None) -> None:
        self.aggregates = deps.aggregates
        self.policy = policy
        if scheduler_api is None:
            scheduler_api = scheduler_rpcapi.SchedulerAPI(
                deps.transport,
                application.scheduler_topics(deps.applications),
                retry=deps.conf.rpc_client_retry,
                upgrade_levels=deps.upgrade_levels)
        self.scheduler_api = scheduler_api

    def index(self, req: webob.Request) -> webob.Response:
        """GET /v1/os-aggregates"""
        self._authorize(req, "list")
        wsgi_util.query_params(req, ())
        return wsgi_util.json_response(
            {"aggregates": [view(row) for row in self.aggregates.get_all()]})

    def create(self, req: webob.Request) -> webob.Response:
        """POST /v1/os-aggregates"""
        context = self._authorize(req, "create")
        values = create_values(wsgi_util.read_json_object(req))
        row = self.aggregates.create(**values)
        LOG.info("aggregate %s (%s) created", row.id, row.name)
        self._fan_out(context)
        return wsgi_util.json_response({"aggregate": view(row)})

    def show(self, req: webob.Request, id: str) -> webob.Response:
        """GET /v1/os-aggregates/{id}"""
        self._authorize(req, "show")
        row = self.aggregates.get(_aggregate_id(id))
        return wsgi_util.json_response({"aggregate": view(row)})

    def action(self, req: webob.Request, id: str) -> webob.Response:
        """POST /v1/os-aggregates/{id}/action: add_host, remove_host or
        set_metadata."""
        body = wsgi_util.read_json_object(req)
        action = action_of(body)
        context = self._authorize(req, action)
        aggregate_id = _aggregate_id(id)
        argument = action_argument(action, body[action])
        if action == "add_host":
            row = self.aggregates.add_host(aggregate_id, argument)
        elif action == "remove_host":
            row = self.aggregates.remove_host(aggregate_id, argument)
        else:
            row = self.aggregates.set_metadata(
                aggregate_id, argument, max_items=MAX_METADATA_ITEMS)
        LOG.info("aggregate %s: %s done", aggregate_id, action)
        self._fan_out(context)
        return wsgi_util.json_response({"aggregate": view(row)})

    def delete(self, req: webob.Request, id: str) -> webob.Response:
        """DELETE /v1/os-aggregates/{id}: only once it has no hosts."""
        context = self._authorize(req, "delete")
        aggregate_id = _aggregate_id(id)
        self.aggregates.delete(aggregate_id)
        LOG.info("aggregate %s deleted", aggregate_id)
        self._fan_out(context)
        return wsgi_util.empty_response(204)

    def _authorize(self, req: webob.Request, operation: str
                   ) -> RequestContext:
        context = wsgi_util.context_of(req)
        self.policy.authorize(context, f"aggregates:{operation}")
        return context

    def _fan_out(self, context: RequestContext) -> None:
        """Send the aggregates as they are now to every scheduler."""
        aggregates = [row.as_dict() for row in self.aggregates.get_all()]
        try:
            self.scheduler_api.update_aggregates(context, aggregates)
        except rpc.TRANSPORT_ERRORS as exc:
            # NOTE(capstan): the change is committed and answered as done:
            # the schedulers re-read the aggregates every minute
            # (capstan.worker.scheduler.manager.AGGREGATES_SPACING).
            LOG.warning("could not send the aggregates to the schedulers "
                        "(%s: %s); they will read them at their next "
                        "periodic reload", type(exc).__name__, exc)


def view(row: Aggregate) -> dict[str, Any]:
    """An aggregate as the API shows it."""
    return {
        "id": row.id,
        "name": row.name,
        "availability_zone": row.availability_zone,
        "hosts": sorted(row.hosts),
        "metadata": dict(row.metadata),
        "created_at": _iso8601(row.created_at),
        "updated_at": _iso8601(row.updated_at),
    }


def create_values(body: dict[str, Any]) -> dict[str, Any]:
    """Validate ``{"aggregate": {"name", "availability_zone"?,
    "metadata"?}}``; return the create() arguments or raise Invalid."""
    if set(body) != {"aggregate"} or not isinstance(body["aggregate"], dict):
        raise exception.Invalid(f"The body must be {{\"aggregate\": {{...}}}}"
                                f"; got keys {sorted(body)}.")
    aggregate = body["aggregate"]
    unknown = sorted(set(aggregate) - set(CREATE_FIELDS))
    if unknown:
        raise exception.Invalid(f"Unknown field(s) in aggregate: "
                                f"{', '.join(unknown)}; allowed: "
                                f"{', '.join(CREATE_FIELDS)}.")
    if "name" not in aggregate:
        raise exception.Invalid("aggregate.name is required.")
    zone = aggregate.get("availability_zone")
    return {"name": _string(aggregate["name"], "aggregate.name"),
            "availability_zone": None if zone is None else _string(
                zone, "aggregate.availability_zone"),
            "metadata": _metadata(aggregate.get("metadata"),
                                  "aggregate.metadata", deletes=False)}


def action_of(body: dict[str, Any]) -> str:
    """The one action ``body`` names; raise Invalid otherwise."""
    if len(body) != 1:
        raise exception.Invalid(f"Send exactly one action, one of "
                                f"{', '.join(ACTIONS)}; got keys "
                                f"{sorted(body)}.")
    action = next(iter(body))
    if action not in ACTIONS:
        raise exception.Invalid(f"Unknown action {action[:40]!r}; use one "
                                f"of {', '.join(ACTIONS)}.")
    return action


def action_argument(action: str, args: Any) -> Any:
    """Validate an action's object; return its host name (add_host,
    remove_host) or metadata changes (set_metadata), or raise Invalid."""
    field = "metadata" if action == "set_metadata" else "host"
    if not isinstance(args, dict) or set(args) != {field}:
        raise exception.Invalid(f"{action} must be an object "
                                f"{{\"{field}\": ...}} and nothing else.")
    if field == "host":
        return _string(args["host"], f"{action}.host")
    if args["metadata"] is None:
        raise exception.Invalid("set_metadata.metadata must be an object.")
    return _metadata(args["metadata"], "set_metadata.metadata",
                     deletes=True)


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_STRING:
        raise exception.Invalid(f"{field} must be a string of 1 to "
                                f"{MAX_STRING} characters.")
    return value


def _metadata(value: Any, field: str, *,
              deletes: bool) -> dict[str, str | None]:
    if value is None:
        return {}
    what = "strings (or null, to delete a key)" if deletes else "strings"
    if not isinstance(value, dict) or len(value) > MAX_METADATA_ITEMS:
        raise exception.Invalid(f"{field} must be an object of at most "
                                f"{MAX_METADATA_ITEMS} items mapping "
                                f"strings to {what}.")
    for key, item in value.items():
        if not 1 <= len(key) <= MAX_STRING:
            raise exception.Invalid(f"An aggregate metadata key must be 1 "
                                    f"to {MAX_STRING} characters long.")
        if item is None and deletes:
            continue
        if not isinstance(item, str) or len(item) > MAX_STRING:
            raise exception.Invalid(f"{field}[{key[:40]!r}] must be "
                                    f"{'null or ' if deletes else ''}a "
                                    f"string of at most {MAX_STRING} "
                                    "characters.")
    return dict(value)


def _aggregate_id(raw: str) -> int:
    # The route admits only digits; an id out of the column's range cannot
    # name an aggregate, so it is "not found" like any other unknown id.
    aggregate_id = int(raw)
    if aggregate_id > MAX_ID:
        raise exception.AggregateNotFound(aggregate_id=raw[:20])
    return aggregate_id


def _iso8601(value: datetime.datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() + "+00:00"
