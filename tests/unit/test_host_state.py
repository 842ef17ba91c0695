"""HostState and RequestSpec: reports, placements, volume lists."""
from __future__ import annotations

import types

import pytest

from capstan.common import exception
from capstan.common.db.aggregates import Aggregate
from capstan.worker.scheduler.host_state import HostState, RequestSpec


def _caps(**values):
    caps = {"total_capacity_gb": 100, "free_capacity_gb": 80,
            "allocated_capacity_gb": 20, "availability_zone": "az1"}
    caps.update(values)
    return caps


def test_host_state_missing_capabilities_get_defaults():
    state = HostState("h1", _caps(), timestamp=10.0)

    assert state.provisioned_capacity_gb == 20
    assert state.max_over_subscription_ratio == 1.0
    assert state.thin_provisioning is False
    assert state.virtual_free_capacity_gb == 80


def test_host_state_thin_virtual_free_is_over_subscribed():
    state = HostState("h1", _caps(thin_provisioning=True,
                                  max_over_subscription_ratio=3.0,
                                  provisioned_capacity_gb=250), timestamp=1)

    assert state.virtual_free_capacity_gb == 100 * 3.0 - 250


def test_host_state_bad_numbers_read_as_defaults():
    state = HostState("h1", _caps(free_capacity_gb="unknown",
                                  total_capacity_gb=float("inf"),
                                  max_over_subscription_ratio=0.5),
                      timestamp=1)

    assert state.free_capacity_gb == 0
    assert state.total_capacity_gb == 0
    assert state.max_over_subscription_ratio == 1.0


def test_host_state_stale_report_is_ignored():
    state = HostState("h1", _caps(free_capacity_gb=50), timestamp=10.0)

    assert state.update_capabilities(_caps(free_capacity_gb=90), 9.0) is False
    assert state.free_capacity_gb == 50
    assert state.update_capabilities(_caps(free_capacity_gb=70), 11.0)
    assert state.free_capacity_gb == 70


def test_host_state_consume_lowers_free_and_raises_provisioned():
    state = HostState("h1", _caps(), timestamp=10.0)

    state.consume_from_request(RequestSpec(size=5, resource_id="v1"), now=11.0)

    assert state.free_capacity_gb == 75
    assert state.allocated_capacity_gb == 25
    assert state.provisioned_capacity_gb == 25
    assert "v1" in state.resource_ids


def test_host_state_report_sent_before_placement_keeps_it_applied():
    state = HostState("h1", _caps(), timestamp=10.0)
    state.consume_from_request(RequestSpec(size=5, resource_id="v1"), now=12.0)

    state.update_capabilities(_caps(free_capacity_gb=60), 11.0)

    assert state.free_capacity_gb == 55


def test_host_state_report_sent_after_placement_replaces_it():
    state = HostState("h1", _caps(), timestamp=10.0)
    state.consume_from_request(RequestSpec(size=5, resource_id="v1"), now=12.0)
    state.sync_resource_ids(["v1"], 13.0)

    state.update_capabilities(_caps(free_capacity_gb=75), 13.0)
    state.update_capabilities(_caps(free_capacity_gb=75), 14.0)

    assert state.free_capacity_gb == 75


def test_host_state_sync_replaces_ids_but_keeps_later_placements():
    state = HostState("h1", _caps(), timestamp=10.0, resource_ids=["old"])
    state.consume_from_request(RequestSpec(
        size=1, resource_id="new"), now=12.0)

    removed, added = state.sync_resource_ids(["other"], 11.0)

    assert state.resource_ids == {"other", "new"}
    assert removed == {"old"}
    assert added == {"other"}


def test_host_state_stale_sync_is_ignored():
    state = HostState("h1", _caps(), timestamp=10.0)
    state.sync_resource_ids(["a"], 20.0)

    assert state.sync_resource_ids(["b"], 19.0) is None
    assert state.resource_ids == {"a"}


def test_host_state_release_undoes_consumption():
    state = HostState("h1", _caps(), timestamp=10.0)
    spec = RequestSpec(size=5, resource_id="v1")
    state.consume_from_request(spec, now=11.0)

    state.release(spec)
    state.update_capabilities(_caps(free_capacity_gb=80), 10.5)

    assert state.free_capacity_gb == 80
    assert "v1" not in state.resource_ids


def test_host_state_pool_shows_consumed_capacity():
    state = HostState("h1", _caps(driver="fake"), timestamp=10.0)
    state.consume_from_request(RequestSpec(size=5), now=11.0)

    pool = state.pool()

    assert pool["host"] == "h1"
    assert pool["capabilities"]["driver"] == "fake"
    assert pool["capabilities"]["free_capacity_gb"] == 75
    assert pool["capabilities"]["provisioned_capacity_gb"] == 25
    assert pool["capabilities"]["thin_provisioning"] is False


def test_request_spec_from_dict_accepts_one_id_or_a_list():
    spec = RequestSpec.from_dict("v9", {
        "size": 3, "availability_zone": "az2",
        "scheduler_hints": {"different_host": "a", "same_host": ["b", "b"]}})

    assert spec.hinted_ids("different_host") == ("a",)
    assert spec.hinted_ids("same_host") == ("b",)
    assert spec.all_hinted_ids() == ["a", "b"]
    assert str(spec) == ("size 3 GiB, availability zone 'az2', "
                         "different_host a, same_host b")


@pytest.mark.parametrize("request_spec", [
    None, {}, {"size": 0}, {"size": "1"}, {"size": True},
    {"size": 1, "availability_zone": 3},
    {"size": 1, "scheduler_hints": []},
    {"size": 1, "scheduler_hints": {"same_host": [1]}},
    {"size": 1, "scheduler_hints": {"aggregate_metadata": ["ssd"]}},
    {"size": 1, "scheduler_hints": {"aggregate_metadata": {"ssd": True}}},
])
def test_request_spec_from_dict_malformed_raises_invalid(request_spec):
    with pytest.raises(exception.Invalid):
        RequestSpec.from_dict("v1", request_spec)


def test_request_spec_from_volume_rebuilds_the_request():
    volume = types.SimpleNamespace(id="v1", size=7, availability_zone=None,
                                   scheduler_hints={"same_host": ["x"]})

    spec = RequestSpec.from_row(volume)

    assert (spec.resource_id, spec.size) == ("v1", 7)
    assert spec.hinted_ids("same_host") == ("x",)


def test_host_state_confirm_keeps_placement_past_report_read_before_it():
    from capstan.worker.scheduler.host_state import HostState, RequestSpec

    state = HostState("h")
    state.update_capabilities({"total_capacity_gb": 10,
                               "free_capacity_gb": 10}, timestamp=100.0)
    spec = RequestSpec(resource_id="v1", size=4)
    state.consume_from_request(spec, now=101.0)
    state.confirm(spec, now=103.0)
    # A report whose state was read at 102 (before the row was written)
    # cannot include this volume: the placement must stay applied.
    state.update_capabilities({"total_capacity_gb": 10,
                               "free_capacity_gb": 10}, timestamp=102.0)
    assert state.free_capacity_gb == 6
    # A report read after the row was written includes it.
    state.update_capabilities({"total_capacity_gb": 10,
                               "free_capacity_gb": 6}, timestamp=104.0)
    assert state.free_capacity_gb == 6


def _inventory(used, total=40, ratio=1.0, reserved=0):
    return types.SimpleNamespace(total=total, allocation_ratio=ratio,
                                 reserved=reserved, used=used)


def test_host_state_inventory_report_read_before_the_row_loses_nothing():
    """The interleaving that over-committed hosts with reports alone: a
    placement (t=101), then a report stamped after it (t=101.5) whose sums
    were read before the placement's row was written, then the row (and,
    now, its claim) at t=102. The report used to replace the count without
    the placement; with the inventory, reports no longer set capacity."""
    state = HostState("h1", {"total_capacity_gb": 40,
                             "free_capacity_gb": 40}, timestamp=100.0)
    state.update_inventory(_inventory(used=0), read_at=100.0)
    spec = RequestSpec(size=10, resource_id="v1")
    state.consume_from_request(spec, now=101.0)
    state.update_capabilities({"total_capacity_gb": 40,
                               "free_capacity_gb": 40,
                               "provisioned_capacity_gb": 0,
                               "thin_provisioning": True}, 101.5)
    state.confirm(spec, now=102.0)
    assert state.virtual_free_capacity_gb == 30
    # The next read of the inventory counts the claim committed at 102.
    state.update_inventory(_inventory(used=10), read_at=103.0)
    assert state.virtual_free_capacity_gb == 30
    assert state.pool()["capabilities"]["provisioned_capacity_gb"] == 10


def test_host_state_inventory_keeps_placements_made_after_the_read():
    state = HostState("h1", {}, timestamp=100.0)
    spec = RequestSpec(size=5, resource_id="v1")
    state.consume_from_request(spec, now=105.0)
    state.update_inventory(_inventory(used=0, total=20, ratio=2.0,
                                      reserved=4), read_at=104.0)
    assert state.virtual_free_capacity_gb == 20 * 2.0 - 4 - 5


def test_request_spec_from_dict_carries_the_aggregate_metadata_hint():
    spec = RequestSpec.from_dict("v9", {
        "size": 3, "scheduler_hints": {"aggregate_metadata": {"ssd": "true",
                                                              "rack": "r1"}}})

    assert spec.aggregate_metadata == {"ssd": "true", "rack": "r1"}
    assert spec.all_hinted_ids() == []
    assert str(spec) == "size 3 GiB, aggregate_metadata rack=r1, ssd=true"
    assert RequestSpec(size=1).aggregate_metadata == {}


def test_host_state_aggregate_zone_overrides_the_reported_one():
    state = HostState("h1", _caps(availability_zone="az1"), timestamp=1.0)

    state.set_aggregates([Aggregate(1, "plain", None, ("h1",)),
                          Aggregate(2, "zoned", "az-agg", ("h1",))])
    assert state.availability_zone == "az-agg"
    # A later report keeps the aggregate's zone, and remembers its own.
    state.update_capabilities(_caps(availability_zone="az3"), 2.0)
    assert state.availability_zone == "az-agg"
    assert state.pool()["capabilities"]["availability_zone"] == "az-agg"

    state.set_aggregates([])
    assert state.availability_zone == "az3"


def test_host_state_in_no_zoned_aggregate_keeps_its_reported_zone():
    state = HostState("h1", _caps(availability_zone="az1"), timestamp=1.0)

    state.set_aggregates([Aggregate(1, "plain", None, ("h1",),
                                    {"ssd": "true"})])

    assert state.availability_zone == "az1"


def test_host_state_set_aggregates_collects_their_metadata():
    state = HostState("h1")

    state.set_aggregates([Aggregate(2, "b", None, ("h1",), {"ssd": "no"}),
                          Aggregate(1, "a", None, ("h1",),
                                    {"ssd": "true", "rack": "r1"})])

    assert [agg.id for agg in state.aggregates] == [1, 2]
    assert state.aggregate_metadata == {"ssd": frozenset({"true", "no"}),
                                        "rack": frozenset({"r1"})}


def test_host_state_in_aggregate_with_needs_one_aggregate_with_all_keys():
    state = HostState("h1")
    state.set_aggregates([Aggregate(1, "a", None, ("h1",), {"ssd": "true"}),
                          Aggregate(2, "b", None, ("h1",), {"rack": "r1"})])

    assert state.in_aggregate_with({"ssd": "true"})
    assert state.in_aggregate_with({"rack": "r1"})
    assert not state.in_aggregate_with({"ssd": "true", "rack": "r1"})
    assert not state.in_aggregate_with({"ssd": "false"})
