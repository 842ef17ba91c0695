"""Claims against inventories: what fits, what does not, releases once."""
from __future__ import annotations

import eventlet
import pytest

from capstan.common import exception
from capstan.common.db import placement as placement_module
from capstan.common.db.placement import Placement

DISK = "DISK_GB"


@pytest.fixture
def placement(database):
    return Placement(database)


def claim(placement, consumer, host, amount, resource_class=DISK):
    with placement.transaction() as connection:
        placement.claim(connection, consumer, host, {resource_class: amount})


def used(placement, host, resource_class=DISK):
    return {(row.host, row.resource_class): row.used
            for row in placement.inventories()}[host, resource_class]


def test_placement_claim_fits_up_to_total_times_ratio_minus_reserved(
        placement):
    placement.set_inventory("h1", DISK, total=10, reserved=2,
                            allocation_ratio=1.5)
    claim(placement, "a", "h1", 13)  # 10 x 1.5 - 2 = 13
    with pytest.raises(exception.CapacityExceeded, match="h1 has no room"):
        claim(placement, "b", "h1", 1)
    assert used(placement, "h1") == 13
    assert placement.allocations("a") == {DISK: ("h1", 13)}
    assert placement.allocations("b") == {}


def test_placement_claim_without_inventory_fails(placement):
    with pytest.raises(exception.CapacityExceeded):
        claim(placement, "a", "nowhere", 1)


def test_placement_failed_claim_rolls_back_the_callers_changes(placement):
    placement.set_inventory("h1", DISK, total=10)
    placement.set_inventory("h1", "IOPS", total=5)
    with pytest.raises(exception.CapacityExceeded, match="IOPS"):
        with placement.transaction() as connection:
            placement.claim(connection, "a", "h1", {DISK: 4, "IOPS": 9})
    assert used(placement, "h1") == 0
    assert placement.allocations("a") == {}


def test_placement_release_frees_once(placement):
    placement.set_inventory("h1", DISK, total=10)
    claim(placement, "a", "h1", 6)
    for expected in ({DISK: 6}, {}):
        with placement.transaction() as connection:
            assert placement.release(connection, "a") == expected
    assert used(placement, "h1") == 0


def test_placement_partial_release_and_growth(placement):
    placement.set_inventory("h1", DISK, total=10)
    claim(placement, "a", "h1", 3)
    claim(placement, "a", "h1", 4)  # an extend: the same consumer grows
    assert placement.allocations("a") == {DISK: ("h1", 7)}
    with placement.transaction() as connection:
        assert placement.release(connection, "a", {DISK: 4}) == {DISK: 4}
    assert placement.allocations("a") == {DISK: ("h1", 3)}
    assert used(placement, "h1") == 3


def test_placement_report_keeps_used_and_new_inventory_counts_held(
        placement, database):
    placement.set_inventory("h1", DISK, total=10)
    claim(placement, "a", "h1", 4)
    placement.set_inventory("h1", DISK, total=20, allocation_ratio=2.0)
    assert used(placement, "h1") == 4
    row = placement.inventories(DISK)[0]
    assert (row.total, row.allocation_ratio) == (20, 2.0)
    # An allocation written before its host ever reported (a migration's
    # back-fill) is counted when the inventory appears.
    with database.transaction() as connection:
        connection.execute(
            placement_module.ALLOCATION.insert().values(
                consumer_id="old", resource_class=DISK, host="h2", amount=5,
                created_at=database.now()))
    placement.set_inventory("h2", DISK, total=10)
    assert used(placement, "h2") == 5


def test_placement_concurrent_claims_never_exceed_capacity(placement):
    placement.set_inventory("h1", DISK, total=40)
    results = []

    def one(index):
        try:
            claim(placement, f"c{index}", "h1", 3)
            results.append(True)
        except exception.CapacityExceeded:
            results.append(False)

    pool = eventlet.GreenPool(20)
    for index in range(30):
        pool.spawn_n(one, index)
    pool.waitall()
    assert results.count(True) == 13  # 13 x 3 = 39 <= 40 < 42
    assert used(placement, "h1") == 39
