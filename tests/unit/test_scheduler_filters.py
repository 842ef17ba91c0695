"""The host filters, on plain HostState objects."""
from __future__ import annotations

import pytest

from capstan.common import plugins
from capstan.common.db.aggregates import Aggregate
from capstan.worker.scheduler import filters
from capstan.worker.scheduler.filters.aggregate_metadata import (
    AggregateMetadataFilter)
from capstan.worker.scheduler.filters.affinity import (DifferentHostFilter,
                                                       SameHostFilter)
from capstan.worker.scheduler.filters.availability_zone import AvailabilityZoneFilter
from capstan.worker.scheduler.filters.capacity import CapacityFilter
from capstan.worker.scheduler.host_state import HostState, RequestSpec


def _host(name="h1", **caps):
    values = {"total_capacity_gb": 100, "free_capacity_gb": 50,
              "allocated_capacity_gb": 50, "availability_zone": "az1"}
    values.update(caps)
    return HostState(name, values, timestamp=1.0)


@pytest.mark.parametrize("cls", [AvailabilityZoneFilter, CapacityFilter,
                                 DifferentHostFilter, SameHostFilter,
                                 AggregateMetadataFilter])
def test_filters_built_in_are_entry_points_under_their_class_name(cls):
    assert plugins.load_class(filters.NAMESPACE, cls.__name__,
                              filters.BaseHostFilter) is cls


def test_availability_zone_filter_passes_the_asked_zone_only():
    hosts = [_host("a", availability_zone="az1"),
             _host("b", availability_zone="az2"),
             _host("c", availability_zone=None)]
    spec = RequestSpec(size=1, availability_zone="az2")

    passed = AvailabilityZoneFilter().filter_all(hosts, spec)

    assert [h.host for h in passed] == ["b"]
    assert AvailabilityZoneFilter().host_passes(hosts[0], spec) is False


def test_availability_zone_filter_without_a_zone_is_skipped():
    assert AvailabilityZoneFilter().run_filter_for_spec(
        RequestSpec(size=1)) is False


@pytest.mark.parametrize("free, size, passes", [
    (50, 50, True), (50, 51, False), (0, 1, False)])
def test_capacity_filter_thick_needs_free_space(free, size, passes):
    host = _host(free_capacity_gb=free)
    spec = RequestSpec(size=size)

    assert CapacityFilter().host_passes(host, spec) is passes
    assert bool(CapacityFilter().filter_all([host], spec)) is passes


@pytest.mark.parametrize("provisioned, free, size, passes", [
    (150, 10, 50, True),     # 150 + 50 == 100 * 2.0: just fits
    (150, 10, 51, False),    # over the ratio
    (0, 10, 150, True),      # bigger than free: thin may promise it
    (0, 0, 1, False),        # a full host takes nothing
])
def test_capacity_filter_thin_honours_over_subscription(provisioned, free,
                                                        size, passes):
    host = _host(free_capacity_gb=free, provisioned_capacity_gb=provisioned,
                 thin_provisioning=True, max_over_subscription_ratio=2.0)

    assert CapacityFilter().host_passes(host, RequestSpec(size=size)) \
        is passes


def test_capacity_filter_sees_consumed_capacity():
    host = _host(free_capacity_gb=50)
    host.consume_from_request(RequestSpec(size=40), now=2.0)

    assert CapacityFilter().host_passes(host, RequestSpec(size=20)) is False


def _located(hint, ids, where):
    return RequestSpec(size=1, scheduler_hints={hint: ids},
                       resource_hosts=where)


def test_different_host_filter_rejects_hosts_of_the_named_volumes():
    hosts = [_host("a"), _host("b"), _host("c")]
    spec = _located("different_host", ["v1", "v2", "unknown"],
                    {"v1": "a", "v2": "c"})

    passed = DifferentHostFilter().filter_all(hosts, spec)

    assert [h.host for h in passed] == ["b"]
    assert DifferentHostFilter().host_passes(hosts[0], spec) is False


def test_same_host_filter_passes_hosts_of_the_named_volumes():
    hosts = [_host("a"), _host("b"), _host("c")]
    spec = _located("same_host", ["v1", "v2"], {"v1": "a", "v2": "c"})

    passed = SameHostFilter().filter_all(hosts, spec)

    assert [h.host for h in passed] == ["a", "c"]
    assert SameHostFilter().host_passes(hosts[1], spec) is False


def test_same_host_filter_volume_found_nowhere_passes_nothing():
    spec = _located("same_host", ["unknown"], {})

    assert SameHostFilter().filter_all([_host("a")], spec) == []


@pytest.mark.parametrize("filter_cls", [DifferentHostFilter, SameHostFilter])
def test_affinity_filters_without_their_hint_are_skipped(filter_cls):
    spec = _located("other_hint", ["v1"], {"v1": "a"})

    assert filter_cls().run_filter_for_spec(spec) is False
    assert filter_cls().run_filter_for_spec(RequestSpec(size=1)) is False


def test_availability_zone_filter_sees_the_zone_of_the_aggregate():
    host = _host("a", availability_zone="az1")
    host.set_aggregates([Aggregate(1, "agg", "az-agg", ("a",))])

    passes = AvailabilityZoneFilter().filter_all(
        [host], RequestSpec(size=1, availability_zone="az-agg"))
    fails = AvailabilityZoneFilter().filter_all(
        [host], RequestSpec(size=1, availability_zone="az1"))

    assert (passes, fails) == ([host], [])


def _in_aggregate(name, metadata):
    host = _host(name)
    host.set_aggregates([Aggregate(1, "agg", None, (name,), metadata)])
    return host


def test_aggregate_metadata_filter_passes_hosts_with_every_pair():
    hosts = [_in_aggregate("a", {"ssd": "true", "rack": "r1"}),
             _in_aggregate("b", {"ssd": "false"}),
             _in_aggregate("c", {"ssd": "true"}),
             _host("d")]
    spec = RequestSpec(size=1, scheduler_hints={
        "aggregate_metadata": {"ssd": "true"}})
    both = RequestSpec(size=1, scheduler_hints={
        "aggregate_metadata": {"ssd": "true", "rack": "r1"}})

    assert [h.host for h in AggregateMetadataFilter().filter_all(
        hosts, spec)] == ["a", "c"]
    assert [h.host for h in AggregateMetadataFilter().filter_all(
        hosts, both)] == ["a"]


def test_aggregate_metadata_filter_without_the_hint_is_skipped():
    assert AggregateMetadataFilter().run_filter_for_spec(
        RequestSpec(size=1)) is False
    assert AggregateMetadataFilter().run_filter_for_spec(RequestSpec(
        size=1, scheduler_hints={"aggregate_metadata": {"a": "b"}})) is True
