"""SchedulerManager: the RPC facade over HostManager and FilterScheduler."""
from __future__ import annotations

import pytest

from capstan.common import config, context, exception
from capstan_volumes.scheduler.manager import SchedulerManager


class RecordingVolumeAPI:
    def __init__(self) -> None:
        self.fanouts = 0

    def publish_service_capabilities(self, context):
        self.fanouts += 1


@pytest.fixture
def conf():
    conf = config.make_conf()
    config.load(conf, [])
    return conf


@pytest.fixture
def volume_api():
    return RecordingVolumeAPI()


@pytest.fixture
def manager(conf, volume_api):
    return SchedulerManager(conf=conf, host="sched", db=None, transport=None,
                            volume_api=volume_api)


def test_scheduler_manager_runs_the_resend_and_aggregates_tasks(manager):
    assert sorted(manager.periodic_task_names()) == [
        "reload_aggregates", "resend_stuck_volumes"]


def test_post_start_hook_asks_every_volume_worker_to_report(manager,
                                                            volume_api):
    manager.post_start_hook(1)

    assert volume_api.fanouts == 1


def test_update_service_capabilities_keeps_volume_reports_only(manager):
    ctxt = context.get_admin_context()

    manager.update_service_capabilities(ctxt, "backup", "h2",
                                        {"free_capacity_gb": 5}, 1.0)
    assert not manager.host_manager.has_reports()

    manager.update_service_capabilities(ctxt, "volume", "h1",
                                        {"free_capacity_gb": 5}, 1.0)
    assert manager.host_manager.has_reports()


def test_unknown_filter_fails_at_construction(conf, volume_api):
    conf.set_override("filters", ["RamFilter"], group="scheduler")

    with pytest.raises(exception.Invalid, match="RamFilter"):
        SchedulerManager(conf=conf, host="sched", db=None, transport=None,
                         volume_api=volume_api)
