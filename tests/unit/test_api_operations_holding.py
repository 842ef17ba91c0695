"""Operations' holdings and dependents on PostgreSQL: a delete and an
insert that depends on the deleted row, at the same moment, never both
win. Each test stops one side half-way, inside its transaction, and
checks what the other side does once it lets go."""
from __future__ import annotations

import threading
import uuid

import eventlet
import pytest
import sqlalchemy as sa

from capstan.api.operations import Holding, Operations
from capstan.common import exception
from capstan.common.context import RequestContext
from capstan_volumes import db as volume_db
from capstan_volumes.api.snapshots import SNAPSHOTS
from capstan_volumes.api.volume_api import SNAPSHOTS_OF
from capstan_volumes.api.volumes import VOLUMES

CONTEXT = RequestContext(user_id="u", project_id="p")


@pytest.fixture
def db(pg_database):
    return pg_database


def available_volume(db) -> object:
    volume_id = str(uuid.uuid4())
    volume_db.create(db, id=volume_id, size=1, status="available",
                     host="h", project_id="p")
    return volume_db.VOLUMES.get(db, volume_id)


def wait_until_blocked_on_a_lock(db) -> None:
    """Until another session of this database waits for a row lock."""
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE "
                    "datname = current_database() AND wait_event_type = "
                    "'Lock'")
    for _ in range(500):
        with db.autocommit() as connection:
            if connection.execute(query).scalar():
                return
        eventlet.sleep(0.01)
    raise AssertionError("nobody waited for the lock")


def run(function) -> dict:
    """Run ``function`` in a thread; its result or error lands in the
    returned dict under "done" once it ends."""
    outcome: dict = {}

    def body():
        try:
            outcome["done"] = function()
        except Exception as exc:  # noqa: BLE001 - what the test checks
            outcome["done"] = exc
    outcome["thread"] = threading.Thread(target=body)
    outcome["thread"].start()
    return outcome


def test_delete_waits_for_an_insert_holding_the_row_then_refuses(db):
    volume = available_volume(db)
    snapshot_id = str(uuid.uuid4())
    with db.transaction() as connection:
        # A snapshot create half-way: the volume checked and held...
        assert volume_db.VOLUMES.lock(connection, volume.id,
                                      shared=True) == "available"
        delete = run(lambda: Operations(VOLUMES, db).swap(
            volume, ("available",), unless=(SNAPSHOTS_OF,),
            status="deleting"))
        wait_until_blocked_on_a_lock(db)
        # ...and its row written, before it commits.
        volume_db.SNAPSHOTS.create(
            db, connection=connection, id=snapshot_id, volume_id=volume.id,
            size=1, host="h", status="creating", project_id="p")
    delete["thread"].join()

    assert isinstance(delete["done"], exception.Conflict)
    assert str(delete["done"]) == (f"Volume {volume.id} has snapshots "
                                   f"{snapshot_id}; delete them first.")
    assert volume_db.VOLUMES.get(db, volume.id).status == "available"


def test_insert_holding_a_row_being_deleted_is_refused_and_writes_nothing(
        db):
    volume = available_volume(db)
    with db.transaction() as connection:
        # A delete half-way: the volume locked and moved to deleting...
        assert volume_db.VOLUMES.lock(connection, volume.id) == "available"
        assert volume_db.VOLUMES.cas(db, volume.id, "available",
                                     connection=connection,
                                     status="deleting")
        insert = run(lambda: Operations(SNAPSHOTS, db).insert(
            CONTEXT, lambda row: None, volume_id=volume.id, size=1,
            host="h",
            holding=Holding(volume_db.VOLUMES, volume.id, ("available",))))
        wait_until_blocked_on_a_lock(db)
    insert["thread"].join()  # ...and committed

    assert isinstance(insert["done"], exception.InvalidStatus)
    assert "deleting" in str(insert["done"])
    assert volume_db.SNAPSHOTS.find(db, volume_id=volume.id) == []


def test_insert_holding_a_row_in_its_status_writes_the_row(db):
    volume = available_volume(db)
    row = Operations(SNAPSHOTS, db).insert(
        CONTEXT, lambda row: None, volume_id=volume.id, size=1, host="h",
        holding=Holding(volume_db.VOLUMES, volume.id, ("available",)))
    assert [s.id for s in volume_db.SNAPSHOTS.find(
        db, volume_id=volume.id)] == [row.id]
