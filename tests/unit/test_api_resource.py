"""The framework's resource shape, driven with a resource of the test's own
(widgets, on a table of its own): what any application's resource gets
from declaring itself, over WSGI, on SQLite."""
from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Annotated, Any, Literal

import openapi_spec_validator
import oslo_messaging as messaging
import pytest
import routes
import webob
from pydantic import Field
from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from capstan.api import openapi, router, schema, wsgi_util
from capstan.api.policy import Policy
from capstan.api.operations import Operations
from capstan.api.resource import Action, Resource
from capstan.api.schema import Schema, Text, View
from capstan.common import config, exception
from capstan.common.context import RequestContext
from capstan.common.db.api import Database
from capstan.common.db.rows import Rows

MEMBER = RequestContext(user_id="bob", project_id="p1", roles=["member"])
OTHER = RequestContext(user_id="carol", project_id="p2", roles=["member"])
ADMIN = RequestContext(user_id="alice", project_id="ops", roles=["admin"])


class Base(DeclarativeBase):
    pass


class Widget(Base):
    __tablename__ = "widgets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    colour: Mapped[str] = mapped_column(String(16))
    host: Mapped[str | None] = mapped_column(String(255))
    fault: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class WidgetCreate(Schema):
    name: Text
    colour: Annotated[str, Field(pattern="^(red|blue)$")] = "red"
    host: Text | None = None   # a host to claim one WIDGET on


class Paint(Schema):
    colour: Annotated[str, Field(pattern="^(red|blue)$")]


class WidgetView(View):
    id: str
    name: str
    colour: str
    status: str
    created_at: str | None


class WidgetOperations(Operations):
    """Writes the row, then "casts" through ``send`` to a fake that can
    fail like a broker."""

    def __init__(self, resource: Resource, db: Database) -> None:
        super().__init__(resource, db)
        self.sent: list[tuple[str, str]] = []
        self.error: Exception | None = None

    def _cast(self, what: str, row_id: str) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append((what, row_id))

    def create(self, context: RequestContext, request: WidgetCreate) -> Any:
        claim = (request.host, {"WIDGET": 1}) if request.host else None
        return self.insert(context, lambda row: self._cast("create", row.id),
                           claim=claim, name=request.name,
                           colour=request.colour, host=request.host)

    def delete(self, context: RequestContext, row: Any) -> None:
        self.start_delete(row, ("ready", "error"),
                          lambda: self._cast("delete", row.id))

    def paint(self, context: RequestContext, row: Any, args: Paint) -> None:
        self.swap(row, ("ready",), colour=args.colour)


WIDGETS = Resource(
    name="widget", collection="widgets", rows=Rows(Widget),
    create_schema=WidgetCreate, view_schema=WidgetView,
    operations=lambda resource, deps: WidgetOperations(resource, deps.db),
    actions={"paint": Action(Paint, "Paint a ready widget.")},
    filters={"colour": Text, "status": Text}, admin_filters=("status",),
    sort_keys=("created_at", "name", "id"), summary="Widgets.")


@dataclasses.dataclass
class Deps:
    db: Database
    conf: Any


@pytest.fixture
def app(tmp_path, db):
    # db: the framework's schema (the claims' tables) at head.
    Base.metadata.create_all(db.engine)
    conf = config.make_conf([])
    conf([])
    conf.set_override("policy_file", str(tmp_path / "policy.yaml"),
                      group="oslo_policy")
    mapper = routes.Mapper(register=False)
    WIDGETS.connect(mapper, Deps(db, conf),
                    Policy(conf, WIDGETS.policy_rules()))
    yield router.Router(mapper)


def operations(app) -> WidgetOperations:
    handler = app.mapper.matchlist[0].defaults["handler"]
    return handler.__self__.operations


def call(app, method: str, path: str, body: Any = None,
         context: RequestContext = MEMBER) -> webob.Response:
    req = webob.Request.blank(path, method=method)
    req.environ[wsgi_util.CONTEXT_KEY] = context
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = "application/json"
    return req.get_response(app)


def create(app, name: str = "w", context=MEMBER, **extra) -> dict:
    response = call(app, "POST", "/widgets", {"widget": {"name": name,
                                                         **extra}}, context)
    assert response.status_int == 202
    return response.json_body["widget"]


def ready(app, widget_id: str) -> None:
    assert WIDGETS.rows.cas(operations(app).db, widget_id, "creating",
                            status="ready")


def test_resource_create_writes_the_row_then_sends(app):
    response = call(app, "POST", "/widgets", {"widget": {"name": "w1"}})

    widget = response.json_body["widget"]
    assert response.status_int == 202
    assert response.location == f"http://localhost/widgets/{widget['id']}"
    assert (widget["name"], widget["colour"], widget["status"]) == (
        "w1", "red", "creating")
    assert widget["created_at"].endswith("+00:00")
    assert operations(app).sent == [("create", widget["id"])]


def test_resource_create_validates_with_the_schema(app):
    with pytest.raises(exception.Invalid, match=r"^widget\.colour: "):
        call(app, "POST", "/widgets", {"widget": {"name": "w",
                                                  "colour": "green"}})
    with pytest.raises(exception.Invalid, match=r"widget\.size: Unknown"):
        call(app, "POST", "/widgets", {"widget": {"name": "w", "size": 1}})
    with pytest.raises(exception.Invalid, match="must be"):
        call(app, "POST", "/widgets", {"thing": {"name": "w"}})
    assert WIDGETS.rows.list_page(operations(app).db) == []


def test_resource_create_failed_cast_undoes_the_row_and_answers_503(app):
    operations(app).error = messaging.MessageDeliveryFailure("down")

    with pytest.raises(exception.ServiceUnavailable):
        call(app, "POST", "/widgets", {"widget": {"name": "w"}})

    [row] = WIDGETS.rows.list_page(operations(app).db)
    assert row.status == "error"


def test_resource_create_claims_on_the_host_with_the_row(app):
    ops = operations(app)
    ops.placement.set_inventory("h1", "WIDGET", total=1)

    widget = create(app, host="h1")
    assert ops.placement.allocations(widget["id"]) == {"WIDGET": ("h1", 1)}

    with pytest.raises(exception.CapacityExceeded):
        call(app, "POST", "/widgets", {"widget": {"name": "x",
                                                  "host": "h1"}})
    assert [row.name for row in WIDGETS.rows.list_page(ops.db)] == ["w"]


def test_resource_create_failed_cast_gives_the_claim_back(app):
    ops = operations(app)
    ops.placement.set_inventory("h1", "WIDGET", total=1)
    ops.error = messaging.MessageDeliveryFailure("down")

    with pytest.raises(exception.ServiceUnavailable):
        call(app, "POST", "/widgets", {"widget": {"name": "w",
                                                  "host": "h1"}})

    [row] = WIDGETS.rows.list_page(ops.db)
    assert (row.status, row.fault) == (
        "error", "create failed: the message bus is unavailable")
    assert ops.placement.allocations(row.id) == {}
    assert [inv.used for inv in ops.placement.inventories("WIDGET")] == [0]


def test_resource_show_is_owner_or_admin(app):
    widget = create(app)
    assert call(app, "GET", f"/widgets/{widget['id']}").json_body == {
        "widget": widget}
    assert call(app, "GET", f"/widgets/{widget['id'].upper()}",
                context=ADMIN).status_int == 200
    with pytest.raises(exception.NotFound):
        call(app, "GET", f"/widgets/{widget['id']}", context=OTHER)
    with pytest.raises(exception.NotFound):
        call(app, "GET", "/widgets/not-an-id")


def test_resource_list_pages_with_a_next_link(app):
    names = [create(app, f"w{i}")["name"] for i in range(5)]
    create(app, "theirs", OTHER)

    first = call(app, "GET", "/widgets?limit=2&sort_key=name&sort_dir=asc")
    page = first.json_body
    assert [w["name"] for w in page["widgets"]] == names[:2]
    seen = [w["name"] for w in page["widgets"]]
    while "next" in page:
        page = call(app, "GET", page["next"].replace("http://localhost",
                                                     "")).json_body
        seen += [w["name"] for w in page["widgets"]]
    assert seen == names
    assert len(call(app, "GET", "/widgets", context=ADMIN)
               .json_body["widgets"]) == 6


def test_resource_list_filters_and_refuses_admin_filters(app):
    create(app, "a", colour="blue")
    create(app, "b")
    blue = call(app, "GET", "/widgets?colour=blue").json_body["widgets"]
    assert [w["name"] for w in blue] == ["a"]
    with pytest.raises(exception.Invalid, match="Only an admin"):
        call(app, "GET", "/widgets?status=creating")
    assert len(call(app, "GET", "/widgets?status=creating",
                    context=ADMIN).json_body["widgets"]) == 2
    with pytest.raises(exception.Invalid, match="Unknown query parameter"):
        call(app, "GET", "/widgets?size=1")


def test_resource_list_marker_of_another_project_is_invalid(app):
    theirs = create(app, context=OTHER)["id"]
    with pytest.raises(exception.Invalid, match="not a widget you can see"):
        call(app, "GET", f"/widgets?marker={theirs}")


def test_resource_action_runs_the_operation_with_parsed_args(app):
    widget = create(app)
    ready(app, widget["id"])

    response = call(app, "POST", f"/widgets/{widget['id']}/action",
                    {"paint": {"colour": "blue"}})

    assert response.status_int == 202
    assert call(app, "GET", f"/widgets/{widget['id']}").json_body[
        "widget"]["colour"] == "blue"


@pytest.mark.parametrize("body, words", [
    ({"polish": {}}, "one of paint"),
    ({"paint": {"colour": "blue"}, "x": {}}, "exactly one action"),
    ({"paint": {}}, "paint.colour: Field required"),
])
def test_resource_action_invalid_body(app, body, words):
    widget = create(app)
    with pytest.raises(exception.Invalid, match=words):
        call(app, "POST", f"/widgets/{widget['id']}/action", body)


def test_resource_action_in_the_wrong_status_is_invalid_status(app):
    widget = create(app)
    with pytest.raises(exception.InvalidStatus,
                       match="Widget .* is creating; this needs one of ready"):
        call(app, "POST", f"/widgets/{widget['id']}/action",
             {"paint": {"colour": "blue"}})


def test_resource_delete_swaps_then_sends_and_undoes_on_failure(app):
    widget = create(app)
    ready(app, widget["id"])
    ops = operations(app)
    ops.error = messaging.MessagingTimeout("slow")

    with pytest.raises(exception.ServiceUnavailable):
        call(app, "DELETE", f"/widgets/{widget['id']}")
    assert WIDGETS.rows.get(ops.db, widget["id"]).status == "ready"

    ops.error = None
    assert call(app, "DELETE", f"/widgets/{widget['id']}").status_int == 202
    assert WIDGETS.rows.get(ops.db, widget["id"]).status == "deleting"


def test_view_of_a_model_reads_its_columns():
    view = schema.view_of(Widget, exclude=("deleted_at", "user_id"),
                          status=Literal["ready"], extra=int)
    fields = view.model_fields
    assert list(fields)[-1] == "extra"
    assert "deleted_at" not in fields and "user_id" not in fields
    assert fields["name"].annotation is str
    assert fields["host"].annotation == str | None
    assert fields["created_at"].annotation is str
    assert fields["status"].annotation == Literal["ready"]
    assert view.__name__ == "Widget"


def test_resource_policy_rules_cover_every_operation():
    assert [rule.name for rule in WIDGETS.policy_rules()] == [
        "widgets:create", "widgets:get_all", "widgets:get", "widgets:delete",
        "widgets:paint"]


def test_resource_openapi_document_is_valid(tmp_path):
    @dataclasses.dataclass
    class App:
        def list_resources(self):
            return [WIDGETS]

        def openapi_paths(self):
            return {}

    document = openapi.build_document([App()])
    openapi_spec_validator.validate(document)
    assert set(document["paths"]) >= {"/v1/widgets", "/v1/widgets/{id}",
                                      "/v1/widgets/{id}/action"}
    assert {"WidgetCreate", "WidgetView", "Paint", "WidgetList"} <= set(
        document["components"]["schemas"])


def test_operations_require_a_visible_row_in_a_status(app):
    ops = operations(app)
    theirs = create(app, context=OTHER)["id"]
    mine = create(app)["id"]
    assert ops.require(MEMBER, WIDGETS.rows, mine.upper()).id == mine
    with pytest.raises(exception.Invalid,
                       match="names .*, which is not a widget you can see"):
        ops.require(MEMBER, WIDGETS.rows, theirs)
    with pytest.raises(exception.InvalidStatus, match="needs one of ready"):
        ops.require(MEMBER, WIDGETS.rows, mine, ("ready",))


def test_resource_create_refused_by_the_rpc_cap_leaves_no_row(app):
    ops = operations(app)
    ops.placement.set_inventory("h1", "WIDGET", total=1)
    ops.error = exception.RPCVersionTooNew(method="create", version="1.1",
                                           topic="widget", cap="1.0")

    with pytest.raises(exception.RPCVersionTooNew):
        call(app, "POST", "/widgets", {"widget": {"name": "w",
                                                  "host": "h1"}})

    assert WIDGETS.rows.list_page(ops.db) == []
    assert [inv.used for inv in ops.placement.inventories("WIDGET")] == [0]


def test_resource_delete_refused_by_the_rpc_cap_changes_nothing(app):
    widget = create(app)
    ready(app, widget["id"])
    ops = operations(app)
    ops.error = exception.RPCVersionTooNew(method="delete", version="1.1",
                                           topic="widget", cap="1.0")

    with pytest.raises(exception.RPCVersionTooNew):
        call(app, "DELETE", f"/widgets/{widget['id']}")

    row = WIDGETS.rows.get(ops.db, widget["id"])
    assert (row.status, row.fault) == ("ready", None)
