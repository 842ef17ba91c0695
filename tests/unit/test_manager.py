"""Manager, SchedulerDependentManager, VolumeManager and the scheduler's hook.

Collaborators are small recording fakes passed through the constructors;
the transport is a real ``fake://`` one that nothing here sends on.
"""
import pytest

from capstan.common import config, context, exception
from capstan.common.db import migration
from capstan.common.db.api import Database
from capstan.common.manager import Manager, SchedulerDependentManager
from capstan.common.periodic import periodic_task
from capstan_volumes.scheduler.manager import SchedulerManager
from capstan_volumes.volume.drivers.fake import FakeDriver
from capstan_volumes.volume.drivers.file import FileDriver
from capstan_volumes.volume.manager import VolumeManager

CTX = context.get_admin_context()


class FakeSchedulerAPI:
    """Records what a SchedulerDependentManager sends to the schedulers."""

    def __init__(self):
        self.reports = []
        self.timestamps = []

    def update_service_capabilities(self, context, *, service_name, host,
                                    capabilities, timestamp=None):
        self.reports.append((service_name, host, dict(capabilities)))
        self.timestamps.append(timestamp)


class FakeVolumeAPI:
    def __init__(self):
        self.publish_requests = 0

    def publish_service_capabilities(self, context):
        self.publish_requests += 1


@pytest.fixture
def conf(tmp_path):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))
    return conf


@pytest.fixture
def deps(conf, transport, tmp_path):
    """The constructor arguments every manager takes."""
    db = Database(f"sqlite:///{tmp_path}/capstan.sqlite")
    migration.upgrade(db)
    yield {"conf": conf, "host": "h1", "transport": transport, "db": db}
    db.dispose()


def test_manager_hooks_do_nothing_by_default(deps):
    manager = Manager(**deps)

    assert manager.init_host(1) is None
    assert manager.pre_start_hook(1) is None
    assert manager.post_start_hook(1) is None
    assert manager.reset() is None
    assert manager.is_ready() is True
    assert manager.target.version == Manager.RPC_API_VERSION


def test_manager_periodic_tasks_runs_due_tasks_and_returns_idle(deps):
    class Ticking(Manager):
        runs = 0

        @periodic_task(spacing=30, run_immediately=True)
        def tick(self, context):
            Ticking.runs += 1

    idle = Ticking(**deps).periodic_tasks(CTX)

    assert Ticking.runs == 1
    assert 0 < idle <= 30


def test_manager_periodic_tasks_raise_on_error(deps):
    class Failing(Manager):
        @periodic_task
        def fails(self, context):
            raise RuntimeError("boom")

    manager = Failing(**deps)

    manager.periodic_tasks(CTX)
    with pytest.raises(RuntimeError, match="boom"):
        manager.periodic_tasks(CTX, raise_on_error=True)


@pytest.mark.parametrize("run_external, expected", [
    (True, ["elsewhere", "here"]), (False, ["here"])])
def test_manager_run_external_periodic_tasks_option(
        deps, conf, run_external, expected):
    class External(Manager):
        @periodic_task(external_process_ok=True)
        def elsewhere(self, context):
            pass

        @periodic_task
        def here(self, context):
            pass

    conf.set_override("run_external_periodic_tasks", run_external)

    assert sorted(External(**deps).periodic_task_names()) == expected


def test_scheduler_dependent_manager_sends_nothing_before_capabilities(deps):
    scheduler = FakeSchedulerAPI()
    manager = SchedulerDependentManager(scheduler_api=scheduler,
                                        service_name="volume", **deps)

    manager.publish_service_capabilities(CTX)

    assert scheduler.reports == []


def test_scheduler_dependent_manager_sends_the_last_capabilities(deps):
    scheduler = FakeSchedulerAPI()
    manager = SchedulerDependentManager(scheduler_api=scheduler,
                                        service_name="volume", **deps)

    manager.update_service_capabilities({"free_capacity_gb": 1})
    manager.update_service_capabilities({"free_capacity_gb": 2})
    manager.publish_service_capabilities(CTX)

    assert scheduler.reports == [("volume", "h1", {"free_capacity_gb": 2})]


def test_scheduler_dependent_manager_publishes_at_the_first_tick(deps):
    scheduler = FakeSchedulerAPI()
    manager = SchedulerDependentManager(scheduler_api=scheduler, **deps)
    manager.update_service_capabilities({"k": "v"})

    assert "publish_service_capabilities" in manager.periodic_task_names()
    manager.periodic_tasks(CTX)

    assert len(scheduler.reports) == 1


def test_volume_manager_loads_the_configured_driver(deps, conf):
    conf.set_override("volume_driver", "fake")

    manager = VolumeManager(scheduler_api=FakeSchedulerAPI(), **deps)

    assert isinstance(manager.driver, FakeDriver)
    assert manager.driver.host == "h1"


def test_volume_manager_file_driver_gets_its_options_and_setup(
        deps, conf, tmp_path):
    conf.set_override("volume_driver", "file")
    conf.set_override("capacity_gb", 9, group="file_driver")

    manager = VolumeManager(scheduler_api=FakeSchedulerAPI(), **deps)
    manager.init_host(1)

    assert isinstance(manager.driver, FileDriver)
    assert manager.driver.pool_path == f"{tmp_path}/volumes"
    assert (tmp_path / "volumes").is_dir()
    assert manager.driver.get_capabilities()["total_capacity_gb"] <= 9


def test_volume_manager_unknown_driver_raises_driver_not_found(deps, conf):
    conf.set_override("volume_driver", "nosuch")

    with pytest.raises(exception.DriverNotFound, match="known: fake, file"):
        VolumeManager(scheduler_api=FakeSchedulerAPI(), **deps)


def test_volume_manager_publishes_capabilities_with_availability_zone(
        deps, conf):
    conf.set_override("availability_zone", "az9")
    scheduler = FakeSchedulerAPI()
    driver = FakeDriver(host="h1", options={"capacity_gb": 50})
    driver.create_volume("v1", 5)
    manager = VolumeManager(driver=driver, scheduler_api=scheduler,
                            service_name="volume", **deps)

    manager.publish_service_capabilities(CTX)
    driver.create_volume("v2", 5)
    manager.publish_service_capabilities(CTX)

    (_, _, first), (name, host, second) = scheduler.reports
    assert (name, host) == ("volume", "h1")
    assert first["availability_zone"] == "az9"
    assert first["driver"] == "fake"
    assert first["free_capacity_gb"] == 45
    # Each report is fresh from the driver, not the first one cached.
    assert second["free_capacity_gb"] == 40


def test_scheduler_manager_asks_volume_hosts_to_report_at_start(deps):
    volume_api = FakeVolumeAPI()
    manager = SchedulerManager(volume_api=volume_api, **deps)

    manager.post_start_hook(1)

    assert volume_api.publish_requests == 1
