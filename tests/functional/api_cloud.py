"""The API of an :class:`APIEnv` with a real scheduler and volume workers.

The services run in this process on the env's own ``fake://`` transport
object and database (and so on its FakeClock): the scheduler and one
VolumeManager per host, with the fake driver, wrapped in real Services, as
``tests/functional/test_scheduler.py`` wires them. Waits poll with a
generous deadline and never assert how long anything took.
"""
from __future__ import annotations

import eventlet
import pytest

from capstan.common.service import Service
from tests.functional.api_env import ADMIN, APIEnv, make_conf
from capstan_volumes.scheduler.host_manager import VolumeHostManager as HostManager
from capstan_volumes.scheduler.manager import SchedulerManager
from capstan_volumes.volume.drivers.fake import FakeDriver
from capstan_volumes.volume.manager import VolumeManager

DEADLINE = 30.0
# (host, availability zone, capacity in GiB)
HOSTS = (("vol-a", "az1", 100), ("vol-b", "az1", 200))


def wait_for(predicate, what: str, deadline: float = DEADLINE):
    """Poll ``predicate`` until it returns something truthy; return it."""
    clock = eventlet.hubs.get_hub().clock
    give_up = clock() + deadline
    while True:
        result = predicate()
        if result:
            return result
        if clock() > give_up:
            pytest.fail(f"timed out waiting for {what}")
        eventlet.sleep(0.05)


class APICloud:
    """Volume workers, then the scheduler, started on ``env``'s bus."""

    def __init__(self, env: APIEnv, hosts=HOSTS) -> None:
        self.env = env
        self.drivers: dict[str, FakeDriver] = {}
        self.services: list[Service] = []
        try:
            for host, zone, capacity in hosts:
                self._start_volume_service(host, zone, capacity)
            # Started last: at start it asks every volume worker to report.
            scheduler = SchedulerManager(
                conf=env.conf, host="sched", db=env.db,
                transport=env.deps.transport, service_name="scheduler",
                host_manager=HostManager.from_conf(env.conf, env.db,
                                                   services_ttl=0))
            self._start(env.conf, "sched", "scheduler", scheduler)
            wait_for(lambda: len(self.pools()) == len(hosts),
                     "every volume host to report to the scheduler")
        except BaseException:
            self.stop()
            raise

    def _start_volume_service(self, host: str, zone: str,
                              capacity: int) -> None:
        conf = make_conf(self.env.tmp_path,
                         db_url=self.env.conf.database.connection)
        conf.set_override("availability_zone", zone)
        driver = FakeDriver(host=host, options={"capacity_gb": capacity})
        self.drivers[host] = driver
        manager = VolumeManager(conf=conf, host=host, db=self.env.db,
                                transport=self.env.deps.transport,
                                service_name="volume", driver=driver)
        self._start(conf, host, "volume", manager)

    def _start(self, conf, host: str, topic: str, manager) -> None:
        service = Service(conf=conf, db=self.env.db,
                          transport=self.env.deps.transport, host=host,
                          binary="worker", topic=topic, manager=manager,
                          report_interval=1, periodic_interval=60,
                          periodic_fuzzy_delay=0)
        service.start()
        self.services.append(service)

    def pools(self) -> list[dict]:
        """GET /v1/scheduler-stats/pools as an admin."""
        response = self.env.request("GET", "/v1/scheduler-stats/pools",
                                    headers=ADMIN)
        assert response.status_code == 200, response.body
        return response.json_body["pools"]

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop(graceful=False)
        self.services.clear()
