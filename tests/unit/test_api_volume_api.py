"""VolumeOperations on SQLite with hand-written fake RPC clients."""
from __future__ import annotations

import oslo_messaging as messaging
import pytest

from capstan.common import exception
from capstan.common.context import RequestContext
from capstan_volumes import db as volume_db
from capstan_volumes import exception as volume_exception
from capstan_volumes.api.volume_api import VolumeOperations
from capstan_volumes.api.volumes import VOLUMES, Extend, VolumeCreate

MEMBER = RequestContext(user_id="bob", project_id="p1", roles=["member"])
OTHER = RequestContext(user_id="carol", project_id="p2", roles=["member"])
ADMIN = RequestContext(user_id="alice", project_id="ops", roles=["admin"])


class FakeRPC:
    """Records casts; raises ``error`` instead when it is set."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, dict]] = []
        self.error: Exception | None = None

    def _cast(self, method: str, kwargs: dict) -> None:
        if self.error is not None:
            raise self.error
        self.casts.append((method, kwargs))

    def create_volume(self, context, **kwargs):
        self._cast("create_volume", kwargs)

    def delete_volume(self, context, **kwargs):
        self._cast("delete_volume", kwargs)

    def extend_volume(self, context, **kwargs):
        self._cast("extend_volume", kwargs)


@pytest.fixture
def rpc():
    return FakeRPC()


@pytest.fixture
def ops(db, rpc):
    return VolumeOperations(VOLUMES, db, scheduler_api=rpc, volume_api=rpc)


def _create(ops, context=MEMBER, **values):
    args = dict(size=1, name=None, availability_zone=None, metadata={},
                scheduler_hints={})
    args.update(values)
    return ops.create(context, VolumeCreate.model_validate(args))


def _placed(db, ops, status="available", size=1):
    volume = _create(ops, size=size)
    volume_db.cas_creating(db, volume.id, expected_host=None, host="h1")
    volume_db.cas(db, volume.id, "creating", status=status)
    return volume_db.get(db, volume.id)


def test_volume_api_create_writes_row_then_casts(db, ops, rpc):
    volume = _create(ops, size=4, name="n", availability_zone="az1",
                     metadata={"a": "b"})

    row = volume_db.get(db, volume.id)
    assert (row.status, row.host, row.project_id, row.user_id, row.name,
            row.meta, row.schedule_attempts) == (
        "creating", None, "p1", "bob", "n", {"a": "b"}, 0)
    assert row.updated_at == row.created_at
    assert rpc.casts == [("create_volume", {
        "volume_id": volume.id, "request_spec": {
            "size": 4, "availability_zone": "az1", "scheduler_hints": {}}})]


def test_volume_api_create_unnamed_is_stored_empty(db, ops):
    volume = _create(ops)
    assert volume_db.get(db, volume.id).name == ""


@pytest.mark.parametrize("error", [
    messaging.MessageDeliveryFailure("down"),
    messaging.MessagingTimeout("slow"),
])
def test_volume_api_create_broker_error_errors_row(db, ops, rpc, error):
    rpc.error = error

    with pytest.raises(exception.ServiceUnavailable):
        _create(ops)

    [row] = volume_db.list_page(db)
    assert (row.status, row.host, row.fault) == (
        "error", None, "create failed: the message bus is unavailable")


def test_volume_api_create_unexpected_error_errors_row_and_reraises(
        db, ops, rpc):
    rpc.error = KeyError("bug")

    with pytest.raises(KeyError):
        _create(ops)

    [row] = volume_db.list_page(db)
    assert row.status == "error"
    assert row.fault == "create failed: the request could not be sent"


def test_volume_api_create_stores_hinted_ids_lowercase_once(db, ops):
    mine = _create(ops).id
    volume = _create(ops, scheduler_hints={
        "different_host": [mine.upper(), mine]})
    assert volume_db.get(db, volume.id).scheduler_hints == {
        "different_host": [mine]}


def test_volume_api_create_hint_must_be_visible(db, ops):
    theirs = _create(ops, OTHER).id
    with pytest.raises(exception.Invalid, match="not a volume you can see"):
        _create(ops, scheduler_hints={"same_host": [theirs]})
    # An admin may name any project's volume.
    _create(ops, ADMIN, scheduler_hints={"same_host": [theirs]})


def test_volume_api_create_sends_the_aggregate_metadata_hint(db, ops, rpc):
    volume = _create(ops, scheduler_hints={
        "aggregate_metadata": {"ssd": "true"}})

    assert rpc.casts[-1][1]["request_spec"]["scheduler_hints"] == {
        "aggregate_metadata": {"ssd": "true"}}
    assert volume_db.get(db, volume.id).scheduler_hints == {
        "aggregate_metadata": {"ssd": "true"}}


def test_volume_api_get_is_scoped_to_the_project(ops):
    volume = _create(ops)
    assert ops.get(ADMIN, volume.id).id == volume.id
    with pytest.raises(volume_exception.VolumeNotFound):
        ops.get(OTHER, volume.id)


def test_volume_api_no_project_is_not_every_project(ops):
    nobody = RequestContext(user_id="x", project_id=None, roles=[])
    with pytest.raises(exception.Forbidden):
        ops.get(nobody, _create(ops).id)


def test_volume_api_delete_without_host_soft_deletes_at_once(db, ops, rpc):
    volume = _create(ops)
    volume_db.cas(db, volume.id, "creating", status="error")
    rpc.casts.clear()
    rpc.error = messaging.MessageDeliveryFailure("down")

    ops.delete(MEMBER, volume_db.get(db, volume.id))

    with pytest.raises(volume_exception.VolumeNotFound):
        volume_db.get(db, volume.id)
    assert rpc.casts == []


def test_volume_api_delete_with_host_swaps_then_casts(db, ops, rpc):
    volume = _placed(db, ops, status="error_deleting")
    rpc.casts.clear()

    ops.delete(MEMBER, volume)

    assert volume_db.get(db, volume.id).status == "deleting"
    assert rpc.casts == [("delete_volume", {"host": "h1",
                                            "volume_id": volume.id})]


def test_volume_api_delete_broker_error_restores_status(db, ops, rpc):
    volume = _placed(db, ops, status="error")
    rpc.error = messaging.MessageDeliveryFailure("down")

    with pytest.raises(exception.ServiceUnavailable):
        ops.delete(MEMBER, volume)

    row = volume_db.get(db, volume.id)
    assert (row.status, row.fault) == (
        "error", "delete failed: the message bus is unavailable")


def test_volume_api_stale_read_answers_conflict(db, ops):
    volume = _placed(db, ops)
    volume_db.cas(db, volume.id, "available", status="extending")

    with pytest.raises(exception.InvalidStatus, match="extending"):
        ops.delete(MEMBER, volume)  # read while still available
    assert volume_db.get(db, volume.id).status == "extending"


def test_volume_api_extend_swaps_then_casts(db, ops, rpc):
    volume = _placed(db, ops, size=2)
    rpc.casts.clear()

    ops.extend(MEMBER, volume, Extend(new_size=3))

    row = volume_db.get(db, volume.id)
    assert (row.status, row.size) == ("extending", 2)
    assert rpc.casts == [("extend_volume", {"host": "h1",
                                            "volume_id": volume.id,
                                            "new_size": 3})]


def test_volume_api_extend_broker_error_leaves_it_available(db, ops, rpc):
    volume = _placed(db, ops, size=2)
    rpc.error = messaging.MessagingTimeout("slow")

    with pytest.raises(exception.ServiceUnavailable):
        ops.extend(MEMBER, volume, Extend(new_size=3))

    row = volume_db.get(db, volume.id)
    assert (row.status, row.size, row.fault) == (
        "available", 2, "extend failed: the message bus is unavailable")


@pytest.mark.parametrize("status", ["creating", "deleting", "extending",
                                    "error", "error_deleting"])
def test_volume_api_extend_needs_available(db, ops, status):
    volume = _placed(db, ops, status=status)
    with pytest.raises(exception.InvalidStatus):
        ops.extend(MEMBER, volume, Extend(new_size=5))
