"""The host aggregates' queries (common/db/aggregates.py), on both backends."""
import datetime

import pytest

from capstan.common import exception
from capstan.common.db.aggregates import Aggregate, Aggregates


@pytest.fixture
def aggregates(database):
    return Aggregates(database)


def test_aggregate_create_returns_it_without_hosts(aggregates):
    created = aggregates.create("fast", "az1", {"ssd": "true"})

    assert (created.name, created.availability_zone, created.hosts,
            created.metadata) == ("fast", "az1", (), {"ssd": "true"})
    assert isinstance(created.created_at, datetime.datetime)
    assert created.updated_at is None
    assert aggregates.get(created.id) == created


def test_aggregate_create_duplicate_live_name_raises_conflict(aggregates):
    aggregates.create("fast")

    with pytest.raises(exception.AggregateNameExists, match="fast"):
        aggregates.create("fast", "az2")


def test_aggregate_create_name_of_deleted_one_is_free(aggregates):
    first = aggregates.create("fast")
    aggregates.delete(first.id)

    second = aggregates.create("fast")

    assert second.id != first.id
    assert [row.id for row in aggregates.get_all()] == [second.id]


def test_aggregate_add_and_remove_host_keep_hosts_sorted(aggregates):
    agg = aggregates.create("fast")

    aggregates.add_host(agg.id, "h2")
    added = aggregates.add_host(agg.id, "h1")
    assert added.hosts == ("h1", "h2")
    assert added.updated_at is not None

    removed = aggregates.remove_host(agg.id, "h2")
    assert removed.hosts == ("h1",)
    assert aggregates.get(agg.id).hosts == ("h1",)


def test_aggregate_add_host_twice_raises_conflict(aggregates):
    agg = aggregates.create("fast")
    aggregates.add_host(agg.id, "h1")

    with pytest.raises(exception.AggregateHostExists, match="h1"):
        aggregates.add_host(agg.id, "h1")


def test_aggregate_remove_host_not_in_it_raises_conflict(aggregates):
    agg = aggregates.create("fast")

    with pytest.raises(exception.AggregateHostNotFound, match="h1"):
        aggregates.remove_host(agg.id, "h1")


def test_aggregate_add_host_of_another_zone_raises_conflict(aggregates):
    one = aggregates.create("one", "az1")
    two = aggregates.create("two", "az2")
    aggregates.add_host(one.id, "h1")

    with pytest.raises(exception.AggregateZoneConflict, match="az1"):
        aggregates.add_host(two.id, "h1")


def test_aggregate_add_host_same_zone_or_no_zone_is_fine(aggregates):
    one = aggregates.create("one", "az1")
    same = aggregates.create("same", "az1")
    plain = aggregates.create("plain")
    aggregates.add_host(one.id, "h1")

    aggregates.add_host(same.id, "h1")
    aggregates.add_host(plain.id, "h1")

    assert [row.hosts for row in aggregates.get_all()] == [("h1",)] * 3


def test_aggregate_set_metadata_merges_and_null_deletes(aggregates):
    agg = aggregates.create("fast", metadata={"ssd": "true", "rack": "r1"})

    updated = aggregates.set_metadata(agg.id, {"rack": None, "gpu": "no",
                                               "absent": None})

    assert updated.metadata == {"ssd": "true", "gpu": "no"}
    assert aggregates.get(agg.id).metadata == {"ssd": "true", "gpu": "no"}


def test_aggregate_set_metadata_beyond_max_items_raises_invalid(aggregates):
    agg = aggregates.create("fast", metadata={"a": "1", "b": "2"})

    with pytest.raises(exception.Invalid, match="3 items"):
        aggregates.set_metadata(agg.id, {"c": "3"}, max_items=2)
    assert aggregates.get(agg.id).metadata == {"a": "1", "b": "2"}


def test_aggregate_delete_with_hosts_raises_conflict(aggregates):
    agg = aggregates.create("fast")
    aggregates.add_host(agg.id, "h1")

    with pytest.raises(exception.AggregateInUse):
        aggregates.delete(agg.id)
    aggregates.remove_host(agg.id, "h1")
    aggregates.delete(agg.id)

    assert aggregates.get_all() == []


@pytest.mark.parametrize("call", [
    lambda aggregates: aggregates.get(4242),
    lambda aggregates: aggregates.add_host(4242, "h"),
    lambda aggregates: aggregates.remove_host(4242, "h"),
    lambda aggregates: aggregates.set_metadata(4242, {"a": "b"}),
    lambda aggregates: aggregates.delete(4242),
], ids=["get", "add_host", "remove_host", "set_metadata", "delete"])
def test_aggregate_queries_on_a_missing_row_raise_not_found(aggregates, call):
    with pytest.raises(exception.AggregateNotFound, match="4242"):
        call(aggregates)


def test_aggregate_queries_on_a_deleted_row_raise_not_found(aggregates):
    agg = aggregates.create("gone")
    aggregates.delete(agg.id)

    with pytest.raises(exception.AggregateNotFound):
        aggregates.add_host(agg.id, "h1")


def test_aggregate_get_all_gives_each_its_hosts(aggregates):
    one = aggregates.create("one", "az1")
    two = aggregates.create("two")
    aggregates.add_host(one.id, "h1")
    aggregates.add_host(two.id, "h1")
    aggregates.add_host(two.id, "h2")

    rows = aggregates.get_all()

    assert [(row.name, row.hosts) for row in rows] == [
        ("one", ("h1",)), ("two", ("h1", "h2"))]


def test_aggregate_as_dict_round_trips_through_from_dict(aggregates):
    agg = aggregates.create("fast", "az1", {"ssd": "true"})
    agg = aggregates.add_host(agg.id, "h1")

    plain = agg.as_dict()

    assert plain == {"id": agg.id, "name": "fast", "availability_zone": "az1",
                     "hosts": ["h1"], "metadata": {"ssd": "true"}}
    assert Aggregate.from_dict(plain) == Aggregate(
        id=agg.id, name="fast", availability_zone="az1", hosts=("h1",),
        metadata={"ssd": "true"})


@pytest.mark.parametrize("value", [
    [], {"name": "x"}, {"id": True, "name": "x"}, {"id": 1, "name": 2},
    {"id": 1, "name": "x", "availability_zone": 3},
    {"id": 1, "name": "x", "hosts": "h1"},
    {"id": 1, "name": "x", "metadata": {"a": 1}},
])
def test_aggregate_from_dict_malformed_raises_invalid(value):
    with pytest.raises(exception.Invalid):
        Aggregate.from_dict(value)
