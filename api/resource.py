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
import sys
import urllib.parse
import uuid
from typing import Any, Callable, Literal

import pydantic
import webob
from oslo_policy import policy as oslo_policy

from capstan.api import schema, wsgi_util
from capstan.api.admission import Admission
from capstan.api.deps import APIDeps
from capstan.api.policy import OWNER_OR_ADMIN, Policy, documented_rule
from capstan.common import exception, rpc
from capstan.common.context import RequestContext
from capstan.common.db.api import Database
from capstan.common.db.placement import Placement
from capstan.common.db.rows import Rows

LOG = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
NOT_SENT = "the message bus is unavailable"
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
        admission = Admission(
            self.collection,
            lambda: self.rows.count(operations.db, "creating"),
            limit=deps.conf.api.max_creating,
            refresh=deps.conf.api.admission_refresh_interval)
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


class Operations:
    """The work behind a resource, for one app: an application subclasses
    it with ``create(context, request)`` (returns the new row),
    ``delete(context, row)`` and one ``<action>(context, row, args)`` per
    action.

    The helpers keep the framework's promise for every write: the row
    changes first by compare-and-swap (:meth:`swap`), then one cast goes
    out (:meth:`send`); when the cast cannot be delivered the row's change
    is undone and the client gets 503, so no row is left in a transitional
    status that no worker will finish.
    """

    def __init__(self, resource: Resource, db: Database) -> None:
        self.resource = resource
        self.rows = resource.rows
        self.db = db
        self.placement = Placement(db)

    def insert(self, context: RequestContext, cast: Callable[[Any], None],
               *, claim: tuple[str, dict[str, int]] | None = None,
               **values: Any) -> Any:
        """Write the new row (a fresh id, ``creating``, the caller's
        project and user, ``values``), then ``cast(row)``.

        With ``claim`` (host, {resource class: amount}) the row's
        resources are claimed on that host in the row's transaction
        (CapacityExceeded, a 409, writes nothing). A cast that cannot be
        delivered moves the row to ``error`` with a fault and gives its
        claim back; one refused before it was sent (409) leaves no row.
        """
        now = self.db.now()
        values = {"id": str(uuid.uuid4()), "status": "creating",
                  "project_id": context.project_id,
                  "user_id": context.user_id, "created_at": now,
                  "updated_at": now, **values}
        if claim is None:
            row = self.rows.create(self.db, **values)
        else:
            with self.placement.transaction() as connection:
                row = self.rows.create(self.db, connection=connection,
                                       **values)
                self.placement.claim(connection, row.id, *claim)
        # Only the row as written: a worker may have moved it on since.
        where = {"host": values["host"]} if "host" in values else None

        def undo(fault: str | None = None) -> None:
            # With a fault: the row stays, in error; without: it goes.
            change = ({"status": "error", "fault": fault} if fault else
                      {"deleted_at": self.db.now()})
            with self.placement.transaction() as connection:
                if self.rows.cas(self.db, row.id, "creating", where=where,
                                 connection=connection, **change) \
                        and claim is not None:
                    self.placement.release(connection, row.id)

        self.send(row, "create", lambda: cast(row), undo=undo, refused=undo)
        return row

    def start_delete(self, row: Any, deletable: tuple[str, ...],
                     cast: Callable[[], None]) -> None:
        """``row`` to ``deleting`` (409 unless ``deletable``), then cast;
        a failed cast puts its status back with a fault."""
        self.swap(row, deletable, status="deleting")
        self.send(row, "delete", cast, undo=lambda fault: self.rows.cas(
            self.db, row.id, "deleting", status=row.status, fault=fault),
            refused=lambda: self.rows.cas(self.db, row.id, "deleting",
                                          status=row.status))

    def get(self, context: RequestContext, row_id: str) -> Any:
        """A live row the caller may see; the resource's NotFound else."""
        return self.rows.get(self.db, row_id,
                             project_id=self.scope(context))

    def require(self, context: RequestContext, rows: Rows, row_id: str,
                statuses: tuple[str, ...] | None = None, *,
                field: str = "The request") -> Any:
        """A row a request names in ``field`` (the source of a copy, say):
        one the caller may see (400 naming the field else: the request is
        wrong, not its URL), in ``statuses`` if given (409 else)."""
        try:
            row = rows.get(self.db, row_id.lower(),
                           project_id=self.scope(context))
        except exception.NotFound:
            raise exception.Invalid(
                f"{field} names {row_id}, which is not a "
                f"{rows.model.__name__.lower()} you can see.") from None
        if statuses is not None and row.status not in statuses:
            raise exception.InvalidStatus(
                resource=rows.model.__name__, id=row.id, status=row.status,
                expected=", ".join(statuses))
        return row

    def scope(self, context: RequestContext) -> str | None:
        """The project whose rows the caller sees; None: every project."""
        if context.is_admin:
            return None
        if not context.project_id:
            # Never read "no project" as "every project".
            raise exception.Forbidden(
                f"A project is needed to use {self.resource.collection}.")
        return context.project_id

    def check_status(self, row: Any, allowed: tuple[str, ...]) -> None:
        if row.status not in allowed:
            raise self.invalid_status(row.id, row.status, allowed)

    def invalid_status(self, row_id: str, status: str,
                       allowed: tuple[str, ...]) -> exception.InvalidStatus:
        return exception.InvalidStatus(
            resource=self.resource.name.capitalize(), id=row_id,
            status=status, expected=", ".join(allowed))

    def swap(self, row: Any, allowed: tuple[str, ...], **values: Any) -> None:
        """Set ``values`` if the status is still the one read (so that an
        undo can put exactly that status back); else 409."""
        self.check_status(row, allowed)
        if self.rows.cas(self.db, row.id, row.status, **values):
            return
        current = self.rows.get(self.db, row.id)
        if current.status in allowed:
            raise exception.Conflict(
                f"{self.resource.name.capitalize()} {row.id} changed while "
                "this request ran; try again.")
        raise self.invalid_status(row.id, current.status, allowed)

    def send(self, row: Any, action: str, cast: Callable[[], None],
             undo: Callable[[str], Any],
             refused: Callable[[], Any] | None = None) -> None:
        """Cast; if that fails, undo the row's change and re-raise.

        A broker failure becomes ServiceUnavailable (503); anything else
        is a bug, re-raised as it is (500), with the row undone all the
        same. A cast refused before it was sent (a Conflict: an RPC
        version the running services do not speak yet) calls ``refused``
        instead, when given: the request had no effect, so the row's
        change goes without a trace.
        """
        name = self.resource.name
        try:
            cast()
        except rpc.TRANSPORT_ERRORS as exc:
            LOG.warning("could not send %s of %s %s: %s: %s", action, name,
                        row.id, type(exc).__name__, exc)
            undo(f"{action} failed: {NOT_SENT}")
            raise exception.ServiceUnavailable() from exc
        except exception.Conflict:
            LOG.warning("%s of %s %s refused: %s", action, name, row.id,
                        sys.exc_info()[1])
            if refused is None:
                undo(f"{action} failed: the request was refused")
            else:
                refused()
            raise
        except Exception:
            LOG.exception("sending %s of %s %s failed", action, name, row.id)
            undo(f"{action} failed: the request could not be sent")
            raise


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
