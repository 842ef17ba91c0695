"""REST resources declared once, served by the framework.

An application declares each resource with a :class:`Resource`: its names,
its rows (:class:`~capstan.common.db.rows.Rows`), the schemas of its create
body, its actions and its view, its list filters and sort keys, and the
operations that do its work (a :class:`Operations` subclass: what a create,
a delete or an action writes and casts). The framework serves the rest:

* ``GET /<collection>``: one page, keyset-paginated (``limit``, ``marker``,
  ``sort_key``, ``sort_dir``), filtered by exact values, and a ``next``
  link when the page is full;
* ``GET /<collection>/{id}``, ``POST /<collection>`` (202 and Location),
  ``DELETE /<collection>/{id}`` (202), ``POST /<collection>/{id}/action``
  with one ``{"<action>": {...}}`` (202);
* owner-or-admin scoping: a member sees its project's rows, an admin every
  project's; another project's row answers 404, as if it did not exist;
* policy rules ``<collection>:get_all|get|create|delete|<action>`` with
  owner-or-admin defaults (:meth:`Resource.policy_rules`);
* the OpenAPI paths (api/openapi.py), from the same schemas that validate.

Errors are raised, never answered here: the one fault filter maps them.
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import re
import urllib.parse
from typing import Any, Callable, Literal

import pydantic
import webob
from oslo_policy import policy as oslo_policy

from capstan.api import schema, wsgi_util
from capstan.api.admission import Admission, Backlog
from capstan.api.operations import Operations
from capstan.api.deps import APIDeps
from capstan.api.policy import OWNER_OR_ADMIN, Policy, documented_rule
from capstan.common import exception
from capstan.common.db.api import Database
from capstan.common.db.rows import Rows

LOG = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
GET = {"method": ["GET"]}
POST = {"method": ["POST"]}
DELETE = {"method": ["DELETE"]}


@dataclasses.dataclass(frozen=True)
class Action:
    """``POST /<collection>/{id}/action`` with ``{"<name>": {...}}``."""

    schema: type[schema.Schema]
    summary: str


@dataclasses.dataclass(frozen=True)
class Resource:
    """A REST resource: what the framework needs to serve and document it.

    ``name`` is the JSON key of one (``{"<name>": {...}}``) and the word
    its messages use; ``collection`` the URL segment, the key of a list
    and the prefix of its policy rules. ``operations(resource, deps)``
    builds the application's :class:`Operations` once per app. ``filters`` maps a
    query parameter to the type its value must have (an exact match on
    the column of that name); ``admin_filters`` are refused to others.
    ``view`` builds a row's document; by default each field of
    ``view_schema`` is read from the row's attribute of that name.
    """

    name: str
    collection: str
    rows: Rows
    create_schema: type[schema.Schema]
    view_schema: type[schema.View]
    operations: Callable[["Resource", APIDeps], "Operations"]
    actions: dict[str, Action] = dataclasses.field(default_factory=dict)
    filters: dict[str, Any] = dataclasses.field(default_factory=dict)
    admin_filters: tuple[str, ...] = ()
    sort_keys: tuple[str, ...] = ("created_at", "updated_at", "id")
    view: Callable[[Any], dict] | None = None
    summary: str = ""

    @functools.cached_property
    def list_query(self) -> type[schema.Query]:
        """The query schema of the listing (its OpenAPI parameters too)."""
        Limit = pydantic.conint(ge=1, le=MAX_LIMIT)  # noqa: N806
        fields: dict[str, Any] = {
            key: (kind | None, None) for key, kind in self.filters.items()}
        fields.update(
            limit=(Limit, DEFAULT_LIMIT),
            marker=(schema.Id | None, None),
            sort_key=(Literal[self.sort_keys], self.sort_keys[0]),
            sort_dir=(Literal["asc", "desc"], "desc"))
        return pydantic.create_model(
            f"{self.name.title()}ListQuery", __base__=schema.Query, **fields)

    def render(self, row: Any) -> dict[str, Any]:
        if self.view is not None:
            return self.view(row)
        return {field: _plain(getattr(row, field))
                for field in self.view_schema.model_fields}

    def policy_rules(self) -> list[oslo_policy.RuleDefault]:
        """Owner-or-admin defaults for each operation, documented."""
        base = f"/v1/{self.collection}"
        rules = [
            documented_rule(f"{self.collection}:create", OWNER_OR_ADMIN,
                            f"Create a {self.name}.", "POST", base),
            documented_rule(f"{self.collection}:get_all", OWNER_OR_ADMIN,
                            f"List {self.collection}.", "GET", base),
            documented_rule(f"{self.collection}:get", OWNER_OR_ADMIN,
                            f"Show a {self.name}.", "GET", base + "/{id}"),
            documented_rule(f"{self.collection}:delete", OWNER_OR_ADMIN,
                            f"Delete a {self.name}.", "DELETE",
                            base + "/{id}")]
        rules += [documented_rule(f"{self.collection}:{name}", OWNER_OR_ADMIN,
                                  action.summary, "POST",
                                  base + "/{id}/action")
                  for name, action in self.actions.items()]
        return rules

    def connect(self, mapper: Any, deps: APIDeps, policy: Policy) -> None:
        """Connect the resource's routes (its operations built once)."""
        operations = self.operations(self, deps)
        api = deps.conf.api
        admission = Admission(
            self.collection, functools.partial(
                _read_backlog, self.rows, operations.db),
            limit=api.max_creating, max_wait=api.max_create_wait,
            refresh=api.admission_refresh_interval)
        controller = ResourceController(self, operations, policy, admission)
        base = f"/{self.collection}"
        # Ids are checked by the controller: a malformed one is 404, like
        # an unknown one.
        mapper.connect(base, handler=controller.index, conditions=GET)
        mapper.connect(base, handler=controller.create, conditions=POST)
        mapper.connect(base + "/{id}", handler=controller.show,
                       conditions=GET)
        mapper.connect(base + "/{id}", handler=controller.delete,
                       conditions=DELETE)
        if self.actions:
            mapper.connect(base + "/{id}/action", handler=controller.action,
                           conditions=POST)


def _read_backlog(rows: Rows, db: Database, max_wait: float,
                  horizon: float) -> Backlog:
    """The rows in ``creating``, and how many of those created between
    ``horizon`` and ``max_wait`` seconds ago still are."""
    creating = rows.count(db, "creating")
    if horizon <= 0:
        return Backlog(creating)
    now = db.now()
    late = rows.count_created_between(
        db, "creating", since=now - datetime.timedelta(seconds=horizon),
        until=now - datetime.timedelta(seconds=max_wait))
    return Backlog(creating, late)


class ResourceController:
    """The REST methods of one :class:`Resource`."""

    def __init__(self, resource: Resource, operations: Operations,
                 policy: Policy, admission: Admission | None = None) -> None:
        self.resource = resource
        self.operations = operations
        self.policy = policy
        self.admission = admission
        self._rule = {op: f"{resource.collection}:{op}" for op in
                      ("get_all", "get", "create", "delete",
                       *resource.actions)}
        self._query_fields = tuple(resource.list_query.model_fields)

    def index(self, req: webob.Request) -> webob.Response:
        """One page, and a ``next`` link when it is full."""
        resource = self.resource
        context = wsgi_util.context_of(req)
        self.policy.authorize(context, self._rule["get_all"])
        params = wsgi_util.query_params(req, self._query_fields)
        query = schema.parse(resource.list_query, params)
        filters = {key: getattr(query, key) for key in resource.filters
                   if getattr(query, key) is not None}
        refused = set(filters) & set(resource.admin_filters)
        if refused and not context.is_admin:
            raise exception.Invalid(f"Only an admin may filter by "
                                    f"{', '.join(sorted(refused))}.")
        marker = query.marker.lower() if query.marker else None
        try:
            rows = resource.rows.list_page(
                self.operations.db, project_id=self.operations.scope(context),
                filters=filters, limit=query.limit, marker=marker,
                sort_key=query.sort_key, sort_dir=query.sort_dir)
        except exception.NotFound:
            raise exception.Invalid(f"marker {marker} is not a "
                                    f"{resource.name} you can see.") from None
        body: dict[str, Any] = {
            resource.collection: [resource.render(row) for row in rows]}
        if len(rows) == query.limit:
            next_query = dict(params, marker=rows[-1].id)
            body["next"] = (f"{req.path_url}?"
                            f"{urllib.parse.urlencode(next_query)}")
        return wsgi_util.json_response(body)

    def create(self, req: webob.Request) -> webob.Response:
        """The row now, the work later (202); 503 at once while too many
        are being created (:mod:`capstan.api.admission`)."""
        name = self.resource.name
        context = wsgi_util.context_of(req)
        self.policy.authorize(context, self._rule["create"])
        if self.admission is not None:
            self.admission.admit()
        body = _only_key(wsgi_util.read_json_object(req), name)
        request = schema.parse(self.resource.create_schema, body, name)
        row = self.operations.create(context, request)
        response = wsgi_util.json_response(
            {name: self.resource.render(row)}, status=202)
        response.location = f"{req.path_url}/{row.id}"
        return response

    def show(self, req: webob.Request, id: str) -> webob.Response:
        row = self._row(req, id, "get")
        return wsgi_util.json_response(
            {self.resource.name: self.resource.render(row)})

    def delete(self, req: webob.Request, id: str) -> webob.Response:
        row = self._row(req, id, "delete")
        self.operations.delete(wsgi_util.context_of(req), row)
        return wsgi_util.empty_response(202)

    def action(self, req: webob.Request, id: str) -> webob.Response:
        """One ``{"<action>": {...}}``."""
        body = wsgi_util.read_json_object(req)
        actions = self.resource.actions
        if len(body) != 1 or next(iter(body)) not in actions:
            raise exception.Invalid(
                f"Send exactly one action, one of {', '.join(actions)}; "
                f"got keys {sorted(body)[:5]}.")
        name, raw = next(iter(body.items()))
        args = schema.parse(actions[name].schema, raw, name)
        row = self._row(req, id, name)
        getattr(self.operations, name)(wsgi_util.context_of(req), row, args)
        return wsgi_util.empty_response(202)

    def _row(self, req: webob.Request, raw_id: str, op: str) -> Any:
        """The row named in the URL, if the caller may see it and the
        rule of ``op`` allows the caller on it."""
        context = wsgi_util.context_of(req)
        if not is_id(raw_id):
            # No row can have it: 404, like any other unknown id.
            raise self.resource.rows.not_found(raw_id[:64])
        row = self.operations.get(context, raw_id.lower())
        self.policy.authorize(context, self._rule[op],
                              {"project_id": row.project_id,
                               "user_id": row.user_id})
        return row


_ID = re.compile(schema.UUID_PATTERN)


def is_id(raw: Any) -> bool:
    """Whether ``raw`` has the form of an id the API hands out."""
    return isinstance(raw, str) and _ID.fullmatch(raw) is not None


def _only_key(body: dict[str, Any], key: str) -> Any:
    if set(body) != {key}:
        raise exception.Invalid(f"The body must be {{\"{key}\": {{...}}}}; "
                                f"got keys {sorted(body)[:5]}.")
    return body[key]


def iso8601(value: datetime.datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as ISO 8601 with its offset."""
    if value is None:
        return None
    if value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).isoformat()
    # The same text as .replace(tzinfo=utc).isoformat(), without building
    # a second datetime per value.
    return value.isoformat() + "+00:00"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return iso8601(value)
    if isinstance(value, dict):
        return dict(value)
    return value
