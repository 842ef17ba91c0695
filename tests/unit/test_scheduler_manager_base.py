"""SchedulerManagerBase: the host aggregates of every scheduler, with a
hand-written fake of the aggregate queries."""
from __future__ import annotations

import pytest

from capstan.common import config, context
from capstan.common.db.aggregates import Aggregate
from capstan.worker.scheduler.host_manager import HostManager
from capstan.worker.scheduler.manager import (AGGREGATES_SPACING,
                                              SchedulerManagerBase)


class FakeAggregates:
    """get_all() of the queries, counted; ``during_read`` runs inside it."""

    def __init__(self, rows=()) -> None:
        self.rows = list(rows)
        self.reads = 0
        self.during_read = None

    def get_all(self):
        self.reads += 1
        if self.during_read is not None:
            self.during_read()
        return list(self.rows)


@pytest.fixture
def conf():
    conf = config.make_conf()
    config.load(conf, [])
    return conf


@pytest.fixture
def aggregates():
    return FakeAggregates([Aggregate(1, "fast", "az-agg", ("h1",),
                                     {"ssd": "true"})])


@pytest.fixture
def manager(conf, aggregates):
    host_manager = HostManager(db=None, filters=[], weighers=[],
                               service_down_time=60, services=object(),
                               placement=object())
    return SchedulerManagerBase(conf=conf, host="sched", db=None,
                                transport=None, host_manager=host_manager,
                                aggregates=aggregates)


def test_scheduler_manager_base_reads_nothing_at_construction(manager,
                                                              aggregates):
    assert aggregates.reads == 0
    assert manager.host_manager.aggregates == []


def test_scheduler_manager_base_init_host_loads_the_aggregates(manager,
                                                               aggregates):
    manager.init_host(1)

    assert aggregates.reads == 1
    assert [agg.name for agg in manager.host_manager.aggregates] == ["fast"]


def test_scheduler_manager_base_update_aggregates_replaces_them(manager):
    manager.init_host(1)

    manager.update_aggregates(context.get_admin_context(), aggregates=[
        {"id": 2, "name": "slow", "availability_zone": None,
         "hosts": ["h2"], "metadata": {}}])

    assert [agg.name for agg in manager.host_manager.aggregates] == ["slow"]


def test_scheduler_manager_base_reloads_periodically(manager, aggregates):
    assert "reload_aggregates" in manager.periodic_task_names()
    spec = {spec.name: spec for spec in manager._periodic_specs}[
        "reload_aggregates"]
    assert spec.spacing == AGGREGATES_SPACING and not spec.singleton

    aggregates.rows = []
    manager.reload_aggregates(context.get_admin_context())

    assert manager.host_manager.aggregates == []


def test_scheduler_manager_base_reload_overtaken_by_a_fanout_is_dropped(
        manager, aggregates):
    fanned_out = {"id": 3, "name": "new", "availability_zone": None,
                  "hosts": [], "metadata": {}}
    aggregates.during_read = lambda: manager.update_aggregates(
        context.get_admin_context(), aggregates=[fanned_out])

    manager.reload_aggregates(context.get_admin_context())

    assert [agg.name for agg in manager.host_manager.aggregates] == ["new"]


def test_scheduler_manager_base_builds_its_host_manager_class(conf):
    class Named(HostManager):
        topic = "things"

    class Manager(SchedulerManagerBase):
        host_manager_class = Named

    manager = Manager(conf=conf, host="sched", db=None, transport=None,
                      aggregates=FakeAggregates())

    assert type(manager.host_manager) is Named
    assert [f.name for f in manager.host_manager.filters][0] == \
        "AvailabilityZoneFilter"
