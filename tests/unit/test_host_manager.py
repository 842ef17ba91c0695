"""HostManager with hand-written fakes of the database and the service
queries, and a hand-driven clock."""
from __future__ import annotations

import datetime
import types

import pytest
from stevedore import extension

from capstan.common import config, exception
from capstan.common.db.aggregates import Aggregate
from capstan.worker.scheduler.filters import BaseHostFilter
from capstan.worker.scheduler.filters.affinity import DifferentHostFilter
from capstan.worker.scheduler.filters.aggregate_metadata import (
    AggregateMetadataFilter)
from capstan.worker.scheduler.filters.availability_zone import (
    AvailabilityZoneFilter)
from capstan.worker.scheduler.filters.capacity import CapacityFilter
from capstan.worker.scheduler.host_manager import HostManager as BaseHostManager
from capstan.worker.scheduler.host_state import RequestSpec
from capstan.worker.scheduler.weighers import BaseHostWeigher
from capstan.worker.scheduler.weighers.capacity import CapacityWeigher

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)


class FakeServices:
    """The one service query the HostManager makes, counted."""

    def __init__(self) -> None:
        self.services: dict[str, types.SimpleNamespace] = {}
        self.reads = 0

    def add_service(self, host, *, disabled=False, state="running",
                    forced_down=False, age=0):
        self.services[host] = types.SimpleNamespace(
            host=host, disabled=disabled, state=state,
            forced_down=forced_down,
            last_seen_up=NOW - datetime.timedelta(seconds=age))

    def get_liveness(self, topic):
        assert topic == "volume"
        self.reads += 1
        return list(self.services.values())


class FakeDB:
    """The database's clock and the volume lookup the HostManager makes."""

    def __init__(self) -> None:
        self.resource_hosts: dict[str, str] = {}
        self.volume_lookups: list[list[str]] = []

    def now(self):
        return NOW

    def volume_get_hosts(self, volume_ids):
        self.volume_lookups.append(list(volume_ids))
        return {v: self.resource_hosts[v] for v in volume_ids
                if v in self.resource_hosts}


class HostManager(BaseHostManager):
    """What the volume application's HostManager adds (topic, the lookup
    of hinted ids no host reported), on the fake database."""

    topic = "volume"

    def lookup_hosts(self, resource_ids):
        return self.db.volume_get_hosts(resource_ids)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db():
    return FakeDB()


@pytest.fixture
def services():
    return FakeServices()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def manager(db, services, clock):
    return HostManager(db=db,
                       filters=[CapacityFilter(), DifferentHostFilter()],
                       weighers=[CapacityWeigher()], service_down_time=60,
                       clock=clock, wall_clock=clock, services=services)


def _report(manager, host, free, total=100, timestamp=1.0, **extra):
    caps = {"total_capacity_gb": total, "free_capacity_gb": free,
            "allocated_capacity_gb": total - free, **extra}
    return manager.update_service_capabilities(host, caps, timestamp)


def _hosts(states):
    return sorted(state.host for state in states)


def test_get_all_host_states_only_up_enabled_reported_hosts(manager, services):
    services.add_service("up")
    services.add_service("disabled", disabled=True)
    services.add_service("silent", age=61)
    services.add_service("stopped", state="stopped")
    services.add_service("forced", forced_down=True)
    services.add_service("unreported")
    for host in ("up", "disabled", "silent", "stopped", "forced", "ghost"):
        _report(manager, host, free=50)

    assert _hosts(manager.get_all_host_states(None)) == ["up"]


def test_get_all_host_states_reads_services_once_per_ttl(
        manager, services, clock):
    services.add_service("h1")
    _report(manager, "h1", free=50)

    for _ in range(5):
        manager.get_all_host_states(None)
    assert services.reads == 1

    services.add_service("h1", disabled=True)
    clock.now += manager.services_ttl
    assert manager.get_all_host_states(None) == []
    assert services.reads == 2


def _expire_services_of_one_host(manager, services, clock) -> None:
    """h1 up and reported, its service set read once and now expired."""
    services.add_service("h1")
    _report(manager, "h1", free=50)
    manager.get_all_host_states(None)
    clock.now += manager.services_ttl


def test_get_all_host_states_expired_set_is_read_by_one_placement(
        manager, services, clock):
    _expire_services_of_one_host(manager, services, clock)
    seen_meanwhile = []
    read = services.get_liveness

    def slow_read(topic):
        # Another placement runs while this read waits on the database.
        seen_meanwhile.append(_hosts(manager.get_all_host_states(None)))
        return read(topic)

    services.get_liveness = slow_read
    assert _hosts(manager.get_all_host_states(None)) == ["h1"]
    assert seen_meanwhile == [["h1"]]
    assert services.reads == 2


def test_get_all_host_states_failed_read_is_retried_by_the_next(
        manager, services, clock):
    _expire_services_of_one_host(manager, services, clock)
    read = services.get_liveness
    services.get_liveness = lambda topic: 1 / 0
    with pytest.raises(ZeroDivisionError):
        manager.get_all_host_states(None)
    services.get_liveness = read
    assert _hosts(manager.get_all_host_states(None)) == ["h1"]
    assert services.reads == 2


def test_get_all_host_states_sees_a_host_reporting_for_the_first_time(
        manager, services):
    services.add_service("h1")
    services.add_service("h2")
    _report(manager, "h1", free=50)
    assert _hosts(manager.get_all_host_states(None)) == ["h1"]

    _report(manager, "h2", free=50)

    assert _hosts(manager.get_all_host_states(None)) == ["h1", "h2"]


def test_update_service_capabilities_stale_report_is_ignored(
        manager, services):
    services.add_service("h1")
    _report(manager, "h1", free=50, timestamp=5.0)

    assert _report(manager, "h1", free=90, timestamp=4.0) is False
    assert manager.pools(None)[0]["capabilities"]["free_capacity_gb"] == 50


def test_select_host_back_to_back_placements_see_each_other(manager, services):
    for host, free in (("a", 100), ("b", 70), ("c", 30)):
        services.add_service(host)
        _report(manager, host, free=free, total=100)

    chosen = [manager.select_host(None, RequestSpec(size=20,
                                                    resource_id=f"v{i}")).host
              for i in range(4)]

    # a: 100 -> 80 -> 60 (b has 70) -> b: 70 -> 50 (a has 60) -> a.
    assert chosen == ["a", "a", "b", "a"]


class ByName(BaseHostWeigher):
    """Prefers hosts late in the alphabet."""

    def weigh_objects(self, hosts, spec):
        return [ord(host.host[0]) for host in hosts]


@pytest.mark.parametrize("weighers, expected", [
    ([CapacityWeigher(multiplier=1.0)], "b"),
    ([CapacityWeigher(multiplier=-1.0)], "c"),
    ([CapacityWeigher(multiplier=0.0)], "a"),
    # capacity a 0.5, b 1, c 0; by name a 0, b 0.5, c 1 (times 3).
    ([CapacityWeigher(multiplier=1.0), ByName(multiplier=3.0)], "c"),
])
def test_select_host_follows_the_weighers(
        db, services, clock, weighers, expected):
    manager = HostManager(db=db, filters=[CapacityFilter()],
                          weighers=weighers, service_down_time=60,
                          clock=clock, wall_clock=clock, services=services)
    for host, free in (("a", 50), ("b", 90), ("c", 10)):
        services.add_service(host)
        _report(manager, host, free=free)

    assert manager.select_host(None, RequestSpec(size=5)).host == expected


def test_select_host_no_service_up_says_so(manager):
    with pytest.raises(exception.NoValidHost,
                       match="no volume service is up and enabled"):
        manager.select_host(None, RequestSpec(size=1))


def test_select_host_no_report_yet_says_so(manager, services):
    services.add_service("h1")

    with pytest.raises(exception.NoValidHost, match="reported"):
        manager.select_host(None, RequestSpec(size=1))
    assert manager.has_reports() is False


def test_select_host_names_the_filter_that_rejected_everything(
        manager, services):
    services.add_service("h1")
    _report(manager, "h1", free=10)

    with pytest.raises(exception.NoValidHost) as info:
        manager.select_host(None, RequestSpec(size=11, resource_id="v1"))

    assert str(info.value) == ("No valid host was found: CapacityFilter "
                               "rejected all 1 candidate hosts for size 11 "
                               "GiB")


def test_select_host_locates_hinted_volumes_with_one_query(
        manager, db, services):
    for host in ("a", "b", "c"):
        services.add_service(host)
        _report(manager, host, free=50)
    manager.sync_resource_info("a", ["known"], timestamp=1.0)
    db.resource_hosts = {"far1": "b", "far2": "c"}

    with pytest.raises(exception.NoValidHost, match="DifferentHostFilter"):
        manager.select_host(None, RequestSpec(size=1, scheduler_hints={
            "different_host": ["known", "far1", "far2", "nowhere"]}))

    assert db.volume_lookups == [["far1", "far2", "nowhere"]]


def test_select_host_placed_volume_is_located_without_a_query(
        manager, db, services):
    services.add_service("a")
    services.add_service("b")
    _report(manager, "a", free=90)
    _report(manager, "b", free=50)
    first = manager.select_host(None, RequestSpec(size=1, resource_id="v1"))

    second = manager.select_host(None, RequestSpec(
        size=1, resource_id="v2", scheduler_hints={"different_host": ["v1"]}))

    assert (first.host, second.host) == ("a", "b")
    assert db.volume_lookups == []


def test_sync_volume_info_moves_ids_in_the_index(manager, db):
    manager.sync_resource_info("a", ["v1", "v2"], timestamp=1.0)
    manager.sync_resource_info("a", ["v2"], timestamp=2.0)
    db.resource_hosts = {"v1": "b"}

    assert manager.locate_resources(["v1", "v2"]) == {"v1": "b", "v2": "a"}
    assert db.volume_lookups == [["v1"]]


def test_release_undoes_the_placement(manager, db, services):
    services.add_service("a")
    _report(manager, "a", free=50)
    spec = RequestSpec(size=10, resource_id="v1")
    state = manager.select_host(None, spec)

    manager.release(state, spec)

    assert state.free_capacity_gb == 50
    manager.locate_resources(["v1"])
    assert db.volume_lookups == [["v1"]]


def test_get_weighed_hosts_heaviest_first(manager, services):
    for host, free in (("a", 10), ("b", 90), ("c", 50)):
        services.add_service(host)
        _report(manager, host, free=free)
    hosts = manager.get_all_host_states(None)

    weighed = manager.get_weighed_hosts(hosts, RequestSpec(size=1))

    assert [(w.host_state.host, w.weight) for w in weighed] == [
        ("b", 1.0), ("c", 0.5), ("a", 0.0)]


def test_get_filtered_hosts_applies_every_filter(manager, services):
    for host, free in (("a", 10), ("b", 90)):
        services.add_service(host)
        _report(manager, host, free=free)
    hosts = manager.get_all_host_states(None)

    assert _hosts(manager.get_filtered_hosts(hosts, RequestSpec(size=20))) \
        == ["b"]


def test_pools_lists_candidates_by_host_with_current_capacity(
        manager, services):
    services.add_service("b")
    services.add_service("a")
    _report(manager, "a", free=50, availability_zone="az1")
    _report(manager, "b", free=70)
    manager.select_host(None, RequestSpec(size=5))

    pools = manager.pools(None)

    assert [pool["host"] for pool in pools] == ["a", "b"]
    assert pools[1]["capabilities"]["free_capacity_gb"] == 65
    assert pools[0]["capabilities"]["availability_zone"] == "az1"


class EverythingFilter(BaseHostFilter):
    def host_passes(self, host, spec):
        return True


def _conf(**scheduler):
    conf = config.make_conf()
    config.load(conf, [])
    for name, value in scheduler.items():
        conf.set_override(name, value, group="scheduler")
    return conf


def test_from_conf_builds_the_default_filters_and_weighers(db):
    manager = HostManager.from_conf(_conf(), db)

    assert [f.name for f in manager.filters] == [
        "AvailabilityZoneFilter", "AggregateMetadataFilter", "CapacityFilter",
        "DifferentHostFilter", "SameHostFilter"]
    assert [type(w).__name__ for w in manager.weighers] == ["CapacityWeigher"]


def test_from_conf_takes_a_dotted_path_and_the_multiplier(db):
    manager = HostManager.from_conf(_conf(
        filters=[f"{__name__}.EverythingFilter"],
        capacity_weight_multiplier=-2.0), db)

    assert isinstance(manager.filters[0], EverythingFilter)
    assert manager.weighers[0].multiplier == -2.0


def test_from_conf_takes_a_filter_of_another_distribution_by_name(
        db, tmp_path, monkeypatch):
    # A distribution as pip installs one, declaring a filter in the group.
    info = tmp_path / "capstan_site_filters-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: capstan-site-filters\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[capstan.scheduler.filters]\n"
        f"Everything = {__name__}:EverythingFilter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # NOTE(capstan): stevedore keeps each group's entry points for the life
    # of the process; start from an empty memo so that it rescans.
    monkeypatch.setattr(extension.ExtensionManager, "ENTRY_POINT_CACHE", {})

    manager = HostManager.from_conf(
        _conf(filters=["Everything", "CapacityFilter"]), db)

    assert [type(f) for f in manager.filters] == [EverythingFilter,
                                                  CapacityFilter]
    with pytest.raises(exception.Invalid, match=(
            "use one of AggregateMetadataFilter, AvailabilityZoneFilter, "
            "CapacityFilter, DifferentHostFilter, Everything, SameHostFilter "
            "or")):
        HostManager.from_conf(_conf(filters=["Nothing"]), db)


@pytest.mark.parametrize("option, names, message", [
    ("filters", ["CapacityFiler"], "unknown name 'CapacityFiler'"),
    ("filters", ["no.such.Filter"], "cannot load 'no.such.Filter'"),
    ("filters", ["CapacityWeigher"], "unknown name 'CapacityWeigher'"),
    ("weighers", ["capstan.worker.scheduler.filters.capacity.CapacityFilter"],
     "is not a BaseHostWeigher subclass"),
])
def test_from_conf_bad_name_raises_invalid_naming_the_option(
        db, option, names, message):
    with pytest.raises(exception.Invalid) as info:
        HostManager.from_conf(_conf(**{option: names}), db)

    assert str(info.value).startswith(f"[scheduler] {option}: ")
    assert message in str(info.value)


def _aggregate(agg_id, hosts, zone=None, **metadata):
    return {"id": agg_id, "name": f"agg{agg_id}", "availability_zone": zone,
            "hosts": list(hosts), "metadata": metadata}


def test_update_aggregates_sets_each_host_its_aggregates_and_zone(
        manager, services):
    for host in ("h1", "h2", "h3"):
        services.add_service(host)
        _report(manager, host, 50, availability_zone="az1")

    manager.update_aggregates([_aggregate(1, ["h1", "h2"], "az-agg"),
                               _aggregate(2, ["h2"], ssd="true")])

    states = {s.host: s for s in manager.get_all_host_states(None)}
    assert {host: s.availability_zone for host, s in states.items()} == {
        "h1": "az-agg", "h2": "az-agg", "h3": "az1"}
    assert [agg.id for agg in states["h2"].aggregates] == [1, 2]
    assert states["h2"].aggregate_metadata == {"ssd": frozenset({"true"})}
    assert states["h3"].aggregates == ()


def test_update_aggregates_replaces_the_set_held(manager, services):
    services.add_service("h1")
    _report(manager, "h1", 50, availability_zone="az1")
    manager.update_aggregates([_aggregate(1, ["h1"], "az-agg")])

    manager.update_aggregates([])

    [state] = manager.get_all_host_states(None)
    assert (state.availability_zone, state.aggregates) == ("az1", ())


def test_update_aggregates_reach_a_host_that_reports_later(manager,
                                                           services):
    manager.update_aggregates([Aggregate(1, "agg", "az-agg", ("h1",))])
    services.add_service("h1")

    _report(manager, "h1", 50, availability_zone="az1")

    [state] = manager.get_all_host_states(None)
    assert state.availability_zone == "az-agg"


def test_update_aggregates_malformed_keeps_those_held(manager):
    manager.update_aggregates([_aggregate(1, ["h1"], "az-agg")])

    with pytest.raises(exception.Invalid):
        manager.update_aggregates([_aggregate(2, ["h1"]), {"id": "x"}])

    assert [agg.id for agg in manager.aggregates] == [1]


def test_select_host_places_by_aggregate_zone_and_metadata(manager,
                                                           services):
    manager.filters = [AvailabilityZoneFilter(), AggregateMetadataFilter(),
                       CapacityFilter()]
    for host, free in (("h1", 90), ("h2", 10)):
        services.add_service(host)
        _report(manager, host, free, availability_zone="az1")
    manager.update_aggregates([_aggregate(1, ["h2"], "az-agg", ssd="true")])

    by_zone = manager.select_host(None, RequestSpec(
        size=1, availability_zone="az-agg"))
    by_hint = manager.select_host(None, RequestSpec(
        size=1, scheduler_hints={"aggregate_metadata": {"ssd": "true"}}))
    assert (by_zone.host, by_hint.host) == ("h2", "h2")

    manager.update_aggregates([_aggregate(1, [], "az-agg", ssd="true")])
    with pytest.raises(exception.NoValidHost,
                       match="AggregateMetadataFilter rejected all 2"):
        manager.select_host(None, RequestSpec(
            size=1, scheduler_hints={"aggregate_metadata": {"ssd": "true"}}))
