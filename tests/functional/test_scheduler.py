"""The scheduler and three volume workers in one process.

One ``fake://`` transport shared by every service and client, SQLite in
tmp_path, the real SchedulerManager and VolumeManagers (fake driver, each
host its own availability zone and capacity) wrapped in real Services. The
test plays the API: it writes the volume row in ``creating`` and casts
``create_volume`` to the scheduler, then watches the row. Every wait polls
with a generous deadline; nothing asserts how long anything took.
"""
from __future__ import annotations

import collections
import datetime
import uuid

import eventlet
import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from capstan.common import config, context
from capstan.common.db import migration
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan.common.service import Service
from capstan_volumes.scheduler import rpcapi as scheduler_rpcapi
from capstan_volumes.scheduler.host_manager import VolumeHostManager as HostManager
from capstan_volumes.scheduler.manager import SchedulerManager
from capstan_volumes.volume.drivers.fake import FakeDriver
from capstan_volumes.volume.manager import VolumeManager
from capstan_volumes import models as volume_models
from capstan_volumes import db as volume_db

pytestmark = pytest.mark.timeout(120)

DEADLINE = 30.0
MAX_ATTEMPTS = 3
# (host, availability zone, capacity in GiB)
HOSTS = [("vol-a", "az1", 100), ("vol-b", "az1", 210), ("vol-c", "az2", 330)]


def _conf(url: str, **overrides) -> cfg.ConfigOpts:
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("connection", url, group="database")
    # Thick accounting keeps the expected placements easy to follow.
    conf.set_override("max_over_subscription_ratio", 1.0,
                      group="file_driver")
    conf.set_override("max_attempts", MAX_ATTEMPTS, group="scheduler")
    # Only rows a test ages on purpose count as stuck.
    conf.set_override("resend_after", 3600, group="scheduler")
    for name, value in overrides.items():
        conf.set_override(name, value)
    return conf


class Cloud:
    """A scheduler and volume workers sharing one bus and one database."""

    def __init__(self, tmp_path, hosts) -> None:
        url = f"sqlite:///{tmp_path}/capstan.sqlite"
        self.conf = _conf(url)
        self.db = Database(url)
        migration.upgrade(self.db)
        self.transport = messaging.get_rpc_transport(self.conf,
                                                     url="fake://")
        self.context = context.get_admin_context()
        self.scheduler_api = scheduler_rpcapi.SchedulerAPI(self.transport,
                                                           timeout=10)
        self.services: list[Service] = []
        self.scheduler = SchedulerManager(
            conf=self.conf, host="sched", db=self.db,
            transport=self.transport, service_name="scheduler",
            # Disabling a service in a test takes effect at once.
            host_manager=HostManager.from_conf(self.conf, self.db,
                                               services_ttl=0))
        self.drivers: dict[str, FakeDriver] = {}
        for host, zone, capacity in hosts:
            self._start_volume_service(url, host, zone, capacity)
        self._start(self.conf, "sched", "scheduler", self.scheduler)

    def _start_volume_service(self, url, host, zone, capacity) -> None:
        conf = _conf(url, availability_zone=zone)
        driver = FakeDriver(host=host, options={"capacity_gb": capacity})
        self.drivers[host] = driver
        manager = VolumeManager(conf=conf, host=host, db=self.db,
                                transport=self.transport,
                                service_name="volume", driver=driver)
        self._start(conf, host, "volume", manager)

    def _start(self, conf, host, topic, manager) -> None:
        service = Service(conf=conf, db=self.db, transport=self.transport,
                          host=host, binary="worker", topic=topic,
                          manager=manager, report_interval=1,
                          periodic_interval=60, periodic_fuzzy_delay=0)
        service.start()
        self.services.append(service)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop(graceful=False)
        self.transport.cleanup()
        self.db.dispose()

    # -- playing the API -----------------------------------------------

    def new_volume(self, size: int, **values) -> str:
        """Write the row in ``creating``, as the API does before casting."""
        volume_id = str(uuid.uuid4())
        volume_db.create(self.db, id=volume_id, size=size, status="creating",
                         project_id="p1", user_id="u1", **values)
        return volume_id

    def create(self, size: int, availability_zone: str | None = None,
               scheduler_hints: dict | None = None) -> volume_models.Volume:
        """Create a volume end to end; return its row once it settled."""
        volume_id = self.new_volume(size, availability_zone=availability_zone,
                                    scheduler_hints=scheduler_hints or {})
        self.scheduler_api.create_volume(
            self.context, volume_id=volume_id,
            request_spec={"size": size,
                          "availability_zone": availability_zone,
                          "scheduler_hints": scheduler_hints or {}})
        row = self.wait_settled(volume_id)
        self.wait_view_caught_up()
        return row

    def wait_settled(self, volume_id: str) -> volume_models.Volume:
        return wait_for(lambda: _settled(volume_db.get(self.db, volume_id)),
                        f"volume {volume_id} to leave creating")

    def wait_view_caught_up(self) -> None:
        """Wait until the scheduler's capacities match the drivers'."""
        def caught_up():
            pools = self.pools()
            return all(
                pools.get(host, {}).get("provisioned_capacity_gb")
                == sum(driver.volumes.values())
                for host, driver in self.drivers.items() if host in pools)
        wait_for(caught_up, "the scheduler's view of capacity")

    def pools(self) -> dict[str, dict]:
        return {pool["host"]: pool["capabilities"]
                for pool in self.scheduler_api.get_pools(self.context)}

    def age(self, volume_id: str) -> None:
        """Make a row look untouched for two hours (a lost cast)."""
        long_ago = self.db.now() - datetime.timedelta(hours=2)
        assert volume_db.cas(self.db, volume_id,
                             "creating", updated_at=long_ago)

    def service_id(self, host: str) -> int:
        return Services(self.db).get_by_host_topic(host, "volume").id


def _settled(row):
    return row if row.status != "creating" else None


def wait_for(predicate, what: str):
    deadline = eventlet.hubs.get_hub().clock() + DEADLINE
    while True:
        result = predicate()
        if result:
            return result
        if eventlet.hubs.get_hub().clock() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        eventlet.sleep(0.05)


@pytest.fixture
def make_cloud(tmp_path):
    clouds = []

    def make(hosts=HOSTS):
        cloud = Cloud(tmp_path, hosts)
        clouds.append(cloud)
        wait_for(lambda: len(cloud.pools()) == len(hosts),
                 "every volume host to report")
        return cloud

    yield make
    for cloud in clouds:
        cloud.stop()


def test_get_pools_shows_every_host_as_the_scheduler_sees_it(make_cloud):
    cloud = make_cloud()

    pools = cloud.pools()

    assert sorted(pools) == ["vol-a", "vol-b", "vol-c"]
    caps = pools["vol-c"]
    assert caps["availability_zone"] == "az2"
    assert (caps["total_capacity_gb"], caps["free_capacity_gb"],
            caps["allocated_capacity_gb"], caps["provisioned_capacity_gb"]) \
        == (330, 330, 0, 0)
    assert caps["driver"] == "fake"


def test_placements_spread_by_free_capacity(make_cloud):
    cloud = make_cloud()

    hosts = [cloud.create(50).host for _ in range(6)]

    # Always the host with the most free space: c 330, 280, 230; then
    # b 210 beats c 180; c 180 beats b 160; b 160 beats c 130.
    assert hosts == ["vol-c", "vol-c", "vol-c", "vol-b", "vol-c", "vol-b"]
    assert cloud.pools()["vol-c"]["free_capacity_gb"] == 130


def test_back_to_back_placements_see_each_other(make_cloud):
    cloud = make_cloud([("vol-a", "az1", 100), ("vol-b", "az1", 100),
                        ("vol-c", "az1", 100)])
    volume_ids = [cloud.new_volume(60) for _ in range(3)]

    # Cast all at once: without consumption two would land on one host.
    for volume_id in volume_ids:
        cloud.scheduler_api.create_volume(cloud.context, volume_id=volume_id,
                                          request_spec={"size": 60})
    rows = [cloud.wait_settled(volume_id) for volume_id in volume_ids]

    assert [row.status for row in rows] == ["available"] * 3
    assert sorted(row.host for row in rows) == ["vol-a", "vol-b", "vol-c"]


def test_availability_zone_is_honoured(make_cloud):
    cloud = make_cloud()

    rows = [cloud.create(10, availability_zone="az1") for _ in range(3)]
    elsewhere = cloud.create(10, availability_zone="az9")

    assert {row.host for row in rows} <= {"vol-a", "vol-b"}
    assert all(row.availability_zone == "az1" for row in rows)
    assert elsewhere.status == "error"
    assert elsewhere.fault.startswith(
        "No valid host was found: AvailabilityZoneFilter rejected all 3")


def test_different_host_and_same_host_are_honoured(make_cloud):
    cloud = make_cloud()
    first = cloud.create(10)

    second = cloud.create(10, scheduler_hints={"different_host": [first.id]})
    third = cloud.create(10, scheduler_hints={
        "different_host": [first.id, second.id]})
    beside = cloud.create(10, scheduler_hints={"same_host": [third.id]})

    assert len({first.host, second.host, third.host}) == 3
    assert beside.host == third.host


def test_disabled_service_gets_nothing(make_cloud):
    cloud = make_cloud()
    Services(cloud.db).update(cloud.service_id("vol-c"), disabled=True,
                             disabled_reason="maintenance")

    hosts = {cloud.create(50).host for _ in range(4)}

    assert hosts == {"vol-a", "vol-b"}
    assert sorted(cloud.pools()) == ["vol-a", "vol-b"]


def test_no_valid_host_sets_error_with_fault(make_cloud):
    cloud = make_cloud()

    row = cloud.create(1000)

    assert row.status == "error"
    assert row.host is None
    assert row.fault == ("No valid host was found: CapacityFilter rejected "
                         "all 3 candidate hosts for size 1000 GiB")


def test_lost_cast_is_resent_by_the_periodic_task_and_placed(make_cloud):
    cloud = make_cloud()
    volume_id = cloud.new_volume(10)  # nothing is cast: the cast was lost
    cloud.age(volume_id)

    cloud.scheduler.resend_stuck_volumes(cloud.context)

    row = cloud.wait_settled(volume_id)
    assert (row.status, row.host) == ("available", "vol-c")
    assert row.schedule_attempts == 1


def test_lost_cast_errors_out_after_max_attempts_when_no_host_fits(
        make_cloud):
    cloud = make_cloud()
    volume_id = cloud.new_volume(1000)
    runs = collections.Counter()

    while volume_db.get(cloud.db, volume_id).status == "creating":
        assert runs["resend"] <= MAX_ATTEMPTS, "never gave up"
        cloud.age(volume_id)
        cloud.scheduler.resend_stuck_volumes(cloud.context)
        runs["resend"] += 1

    row = volume_db.get(cloud.db, volume_id)
    assert row.status == "error"
    assert row.schedule_attempts == MAX_ATTEMPTS
    assert row.fault == (
        "No valid host was found: gave up after 3 re-sends; last: "
        "CapacityFilter rejected all 3 candidate hosts for size 1000 GiB")


def _create_racing(cloud, monkeypatch, host: str, meanwhile) -> str:
    """Run ``host``'s create of a new volume; ``meanwhile`` changes the
    row while the driver works (a slow create the scheduler gave up on)."""
    volume_id = cloud.new_volume(10, host=host)
    driver = cloud.drivers[host]
    real_create = driver.create_volume

    def slow_create(vid, size):
        meanwhile(vid)
        return real_create(vid, size)

    monkeypatch.setattr(driver, "create_volume", slow_create)
    manager = next(service.manager for service in cloud.services
                   if service.host == host)
    manager.create_volume(cloud.context, volume_id)
    return volume_id


@pytest.mark.parametrize("meanwhile", [
    {"status": "error", "fault": "gave up after 3 re-sends"},
    {"host": "vol-b"},
])
def test_create_finishing_after_the_volume_moved_on_drops_its_file(
        make_cloud, monkeypatch, meanwhile):
    cloud = make_cloud()
    volume_id = _create_racing(
        cloud, monkeypatch, "vol-a",
        lambda vid: volume_db.cas(cloud.db, vid, "creating", **meanwhile))
    assert volume_id not in cloud.drivers["vol-a"].volumes
    row = volume_db.get(cloud.db, volume_id)
    assert (row.status, row.host) == (meanwhile.get("status", "creating"),
                                      meanwhile.get("host", "vol-a"))


def test_create_losing_to_a_duplicate_on_the_same_host_keeps_the_file(
        make_cloud, monkeypatch):
    cloud = make_cloud()
    volume_id = _create_racing(
        cloud, monkeypatch, "vol-a",
        lambda vid: volume_db.cas(cloud.db, vid, "creating", status="available"))
    assert volume_id in cloud.drivers["vol-a"].volumes
    assert volume_db.get(cloud.db, volume_id).status == "available"
