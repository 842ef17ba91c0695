"""HostRows: a worker's compare-and-swap steps on its host's rows, with
claims given back in the same transaction (the test's widgets)."""
from __future__ import annotations

import pytest

from capstan.common.db.placement import Placement
from capstan.common.host_rows import DELETED, HostRows
from tests.unit.test_api_resource import WIDGETS, Base


@pytest.fixture
def placement(db):
    Base.metadata.create_all(db.engine)
    placement = Placement(db)
    placement.set_inventory("h1", "WIDGET", total=5)
    return placement


def widget(db, placement, status="creating", host="h1", claim=2):
    row = WIDGETS.rows.create(db, id=f"w-{status}-{host}", name="w",
                              colour="red", status=status, host=host)
    with placement.transaction() as connection:
        placement.claim(connection, row.id, host, {"WIDGET": claim})
    return row.id


def test_host_rows_own_only_this_hosts_row_in_the_status(db, placement):
    rows = HostRows(db, WIDGETS.rows, "h1", placement)
    mine = widget(db, placement)
    assert rows.own(mine, "creating").id == mine
    assert rows.own(mine, "deleting") is None
    assert HostRows(db, WIDGETS.rows, "h2").own(mine, "creating") is None
    assert rows.own("gone", "creating") is None


def test_host_rows_fail_with_release_frees_the_claim_once(db, placement):
    rows = HostRows(db, WIDGETS.rows, "h1", placement)
    mine = widget(db, placement)

    assert rows.fail(mine, "creating", "create", OSError("disk full"),
                     release=True)
    assert not rows.fail(mine, "creating", "create", OSError("again"),
                         release=True)

    row = WIDGETS.rows.get(db, mine)
    assert (row.status, row.fault) == ("error", "create failed: disk full")
    assert placement.allocations(mine) == {}


def test_host_rows_delete_soft_deletes_and_releases(db, placement):
    rows = HostRows(db, WIDGETS.rows, "h1", placement)
    mine = widget(db, placement, status="deleting")

    assert rows.delete(mine)
    assert not rows.delete(mine)  # a duplicate cast frees nothing twice
    assert WIDGETS.rows.state(db, mine) is None
    assert [inv.used for inv in placement.inventories("WIDGET")] == [0]


def test_host_rows_finish_is_guarded_by_the_host(db, placement):
    mine = widget(db, placement)
    assert not HostRows(db, WIDGETS.rows, "h2").finish(
        mine, "creating", status="available")
    assert HostRows(db, WIDGETS.rows, "h1").finish(
        mine, "creating", status="available")
    assert WIDGETS.rows.state(db, mine).status == "available"


def test_host_rows_transitional_lists_this_hosts_rows(db, placement):
    creating, deleting = (widget(db, placement, status=s)
                          for s in ("creating", "deleting"))
    widget(db, placement, status="available", claim=1)
    placement.set_inventory("h2", "WIDGET", total=1)
    widget(db, placement, status="creating", host="h2", claim=1)
    rows = HostRows(db, WIDGETS.rows, "h1", placement)
    assert {row.id for row in rows.transitional(("creating", "deleting"))
            } == {creating, deleting}


def test_host_rows_step_runs_the_work_then_sets_done(db, placement):
    rows = HostRows(db, WIDGETS.rows, "h1", placement)
    mine = widget(db, placement)
    seen = []

    assert rows.step(mine, "creating", "create", seen.append,
                     done={"status": "available"})
    assert [row.id for row in seen] == [mine]
    assert WIDGETS.rows.state(db, mine).status == "available"
    # A duplicate cast finds it moved on: the work does not run again.
    assert not rows.step(mine, "creating", "create", seen.append,
                         done={"status": "available"})
    assert len(seen) == 1


def test_host_rows_step_failure_moves_to_failed_with_a_fault(db, placement):
    rows = HostRows(db, WIDGETS.rows, "h1", placement)
    mine = widget(db, placement, status="deleting")

    def broken(row):
        raise OSError("busy")

    assert not rows.step(mine, "deleting", "delete", broken, done=DELETED,
                         failed="error_deleting")
    row = WIDGETS.rows.state(db, mine)
    assert (row.status, row.fault) == ("error_deleting",
                                       "delete failed: busy")
    assert placement.allocations(mine) == {"WIDGET": ("h1", 2)}


def test_host_rows_step_deleted_releases_the_claim(db, placement):
    rows = HostRows(db, WIDGETS.rows, "h1", placement)
    mine = widget(db, placement, status="deleting")
    assert rows.step(mine, "deleting", "delete", lambda row: None,
                     done=DELETED)
    assert WIDGETS.rows.state(db, mine) is None
    assert placement.allocations(mine) == {}


def test_host_rows_resume_only_what_is_old_enough(db, placement):
    rows = HostRows(db, WIDGETS.rows, "h1", placement)
    mine = widget(db, placement)
    resumed = []
    rows.resume({"creating": resumed.append}, older_than=60)
    assert resumed == []
    rows.resume({"creating": resumed.append})
    assert [row.id for row in resumed] == [mine]
