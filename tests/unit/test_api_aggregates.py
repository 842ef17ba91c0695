"""The /v1/os-aggregates controller: body parsing, and the fanout after a
change, with hand-written fakes of the queries, policy and RPC client."""
from __future__ import annotations

import json
import types

import oslo_messaging as messaging
import pytest
import webob

from capstan.api import wsgi_util
from capstan.api.v1 import aggregates as controller_module
from capstan.api.v1.aggregates import AggregatesController
from capstan.common import context, exception
from capstan.common.db.aggregates import Aggregate


class FakeAggregates:
    def __init__(self) -> None:
        self.rows: dict[int, Aggregate] = {}

    def get_all(self):
        return [self.rows[key] for key in sorted(self.rows)]

    def create(self, name, availability_zone=None, metadata=None):
        row = Aggregate(len(self.rows) + 1, name, availability_zone,
                        metadata=dict(metadata or {}))
        self.rows[row.id] = row
        return row

    def add_host(self, aggregate_id, host):
        row = self.rows[aggregate_id]
        row = self.rows[aggregate_id] = Aggregate(
            row.id, row.name, row.availability_zone,
            tuple(sorted(row.hosts + (host,))), row.metadata)
        return row


class AllowAll:
    def __init__(self) -> None:
        self.rules: list[str] = []

    def authorize(self, ctxt, rule, target=None):
        self.rules.append(rule)


class RecordingSchedulerAPI:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[list[dict]] = []

    def update_aggregates(self, ctxt, aggregates):
        if self.error is not None:
            raise self.error
        self.sent.append(aggregates)


def _controller(scheduler_api):
    deps = types.SimpleNamespace(aggregates=FakeAggregates())
    return AggregatesController(deps, AllowAll(), scheduler_api=scheduler_api)


def _request(body):
    req = webob.Request.blank("/", method="POST")
    req.environ[wsgi_util.CONTEXT_KEY] = context.get_admin_context()
    req.body = json.dumps(body).encode()
    req.content_type = "application/json"
    return req


def test_aggregates_controller_change_fans_out_every_aggregate():
    scheduler_api = RecordingSchedulerAPI()
    controller = _controller(scheduler_api)

    controller.create(_request({"aggregate": {"name": "a"}}))
    controller.action(_request({"add_host": {"host": "h1"}}), "1")

    assert scheduler_api.sent[-1] == [{
        "id": 1, "name": "a", "availability_zone": None, "hosts": ["h1"],
        "metadata": {}}]
    assert controller.policy.rules == ["aggregates:create",
                                       "aggregates:add_host"]


@pytest.mark.parametrize("error", [
    messaging.MessageDeliveryFailure("down"),
    messaging.MessagingTimeout("slow"),
])
def test_aggregates_controller_broker_error_keeps_the_change(error):
    controller = _controller(RecordingSchedulerAPI(error))

    response = controller.create(_request({"aggregate": {"name": "a"}}))

    assert response.status_code == 200
    assert [row.name for row in controller.aggregates.get_all()] == ["a"]


def test_aggregates_controller_unexpected_error_is_not_swallowed():
    controller = _controller(RecordingSchedulerAPI(KeyError("bug")))

    with pytest.raises(KeyError):
        controller.create(_request({"aggregate": {"name": "a"}}))


def test_create_values_fills_the_optional_fields():
    assert controller_module.create_values({"aggregate": {"name": "a"}}) == {
        "name": "a", "availability_zone": None, "metadata": {}}
    assert controller_module.create_values({"aggregate": {
        "name": "a", "availability_zone": "z", "metadata": {"k": "v"}}}) == {
        "name": "a", "availability_zone": "z", "metadata": {"k": "v"}}


def test_action_argument_set_metadata_keeps_nulls():
    assert controller_module.action_argument(
        "set_metadata", {"metadata": {"a": None, "b": "c"}}) == {
        "a": None, "b": "c"}
    assert controller_module.action_argument(
        "remove_host", {"host": "h1"}) == "h1"


@pytest.mark.parametrize("body, words", [
    ({}, "exactly one action"),
    ({"add_host": {}, "remove_host": {}}, "exactly one action"),
    ({"evacuate": {}}, "Unknown action 'evacuate'"),
])
def test_action_of_invalid_names_what_to_send(body, words):
    with pytest.raises(exception.Invalid, match=words):
        controller_module.action_of(body)
