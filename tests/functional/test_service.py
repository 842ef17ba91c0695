"""Service, ServiceTimers and load_manager in one process.

Every service of a test shares one ``fake://`` transport and one SQLite
database. Managers here record what happens to them; the tests poll for it
with a generous deadline and never assert how long anything took.
"""
import time

import eventlet
import oslo_messaging as messaging
import pytest

from capstan.common import config, context, exception, rpc
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan.common.manager import Manager
from capstan.common.periodic import periodic_task
from capstan.common.records import is_up
from capstan.common.service import Service, ServiceTimers, load_manager
from capstan_volumes.scheduler import rpcapi as scheduler_rpcapi
from capstan_volumes.scheduler.manager import SchedulerManager
from capstan_volumes.volume.manager import VolumeManager

pytestmark = pytest.mark.timeout(120)

_DEADLINE = 20.0
TOPIC = "recording"


def wait_until(predicate, what, deadline=_DEADLINE):
    end = time.monotonic() + deadline
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for " + what
        eventlet.sleep(0.02)


def ctx():
    return context.RequestContext(user_id="u", project_id="p",
                                  roles=["admin"], overwrite=False)


class RecordingManager(Manager):
    """Journals its hooks, RPC methods and periodic runs."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.journal = []
        self.ticks = 0

    def events(self):
        return [entry[0] for entry in self.journal]

    def init_host(self, service_id):
        self.journal.append(("init_host",
                             Services(self.db).get(service_id).state))
        # Yield for a while: were the RPC server already consuming, the
        # cast queued before start() would be handled now.
        eventlet.sleep(0.2)
        self.journal.append(("init_host done",))

    def pre_start_hook(self, service_id):
        self.journal.append(("pre_start_hook",))

    def post_start_hook(self, service_id):
        self.journal.append(("post_start_hook",))

    def reset(self):
        self.journal.append(("reset",))

    @rpc.expose
    def ping(self, context, value):
        self.journal.append(("ping", context.request_id))
        return {"pong": value}

    @rpc.expose
    def note(self, context, value):
        self.journal.append(("note", value))

    @rpc.expose
    def slow(self, context, seconds):
        self.journal.append(("slow started",))
        eventlet.sleep(seconds)
        self.journal.append(("slow done",))

    @periodic_task
    def tick(self, context):
        self.ticks += 1


class OnlyOnRequestVolumeManager(VolumeManager):
    """Reports its capabilities only when a scheduler asks (no periodic)."""

    @rpc.expose
    def publish_service_capabilities(self, context):
        super().publish_service_capabilities(context)


@pytest.fixture
def conf(tmp_path):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("graceful_shutdown_timeout", 10)
    conf.set_override("volume_driver", "fake")
    conf.set_override("availability_zone", "az-functional")
    return conf


@pytest.fixture
def services(db):
    return Services(db)


@pytest.fixture
def start(conf, db, transport):
    """Start a Service with fast timers; every one is stopped afterwards."""
    started = []

    def start(manager=RecordingManager, topic=TOPIC, host="h1", **kwargs):
        kwargs.setdefault("report_interval", 0.05)
        kwargs.setdefault("periodic_interval", 0.05)
        kwargs.setdefault("periodic_fuzzy_delay", 0)
        service = Service.create(conf, db, transport, topic=topic, host=host,
                                 binary="worker", manager=manager, **kwargs)
        started.append(service)
        service.start()
        return service

    yield start
    for service in started:
        service.stop(graceful=False)


def client(transport, topic=TOPIC):
    return rpc.get_client(transport, messaging.Target(topic=topic),
                          timeout=_DEADLINE)


def up(db, service) -> bool:
    return is_up(Services(db).get(service.service_id), now=db.now(),
                 service_down_time=60)


# -- Service ------------------------------------------------------------------

def test_service_start_registers_then_init_host_then_consumes(
        start, transport, db):
    client(transport).cast(ctx(), "note", value="queued before start")

    service = start()

    manager = service.manager
    wait_until(lambda: "note" in manager.events(), "the queued cast")
    events = manager.events()
    # The record existed, running, when init_host ran.
    assert manager.journal[0] == ("init_host", "running")
    assert events.index("init_host done") < events.index("pre_start_hook")
    assert events.index("pre_start_hook") < events.index("note")
    assert "post_start_hook" in events
    assert up(db, service)


def test_service_rpc_call_is_answered_and_cast_processed(start, transport):
    service = start()
    sent = ctx()

    answer = client(transport).call(sent, "ping", value=3)
    client(transport).prepare(server="h1").cast(ctx(), "note", value=4)

    assert answer == {"pong": 3}
    assert ("ping", sent.request_id) in service.manager.journal
    wait_until(lambda: ("note", 4) in service.manager.journal, "the cast")


def test_service_heartbeat_bumps_report_count(start, services):
    service = start()
    first = services.get(service.service_id).report_count

    wait_until(lambda: services.get(service.service_id).report_count
               >= first + 3, "three heartbeats")


def test_service_runs_periodic_tasks(start):
    service = start()

    wait_until(lambda: service.manager.ticks >= 3, "three periodic runs")


def test_service_stop_marks_the_record_stopped_and_down(start, db, services):
    service = start()
    waiter = eventlet.spawn(service.wait)
    assert up(db, service)

    service.stop()

    waiter.wait()
    assert services.get(service.service_id).state == "stopped"
    assert not up(db, service)


def test_service_stop_twice_is_harmless(start, services):
    service = start()

    service.stop()
    service.stop()
    service.stop(graceful=False)

    assert services.get(service.service_id).state == "stopped"


def test_service_graceful_stop_lets_an_in_flight_cast_finish(
        start, transport):
    service = start()
    client(transport).cast(ctx(), "slow", seconds=1)
    wait_until(lambda: "slow started" in service.manager.events(),
               "the slow cast to start")

    service.stop()

    assert "slow done" in service.manager.events()


def test_service_graceful_stop_gives_up_after_the_timeout(
        start, transport, conf, services):
    conf.set_override("graceful_shutdown_timeout", 1)
    service = start()
    client(transport).cast(ctx(), "slow", seconds=5)
    wait_until(lambda: "slow started" in service.manager.events(),
               "the slow cast to start")

    service.stop()

    assert "slow done" not in service.manager.events()
    assert services.get(service.service_id).state == "stopped"


def test_service_kill_deletes_the_record(start, services):
    service = start()

    service.kill()

    with pytest.raises(exception.ServiceNotFound):
        services.get(service.service_id)
    assert services.get_by_host_topic("h1", TOPIC) is None


def test_service_reset_reaches_the_manager(start):
    service = start()

    service.reset()

    assert "reset" in service.manager.events()


def test_service_restart_reuses_the_record(start, db):
    first = start()
    first.stop()

    second = start()

    assert second.service_id == first.service_id
    assert up(db, second)


def test_service_start_on_an_unsynced_database_raises(conf, transport,
                                                      tmp_path):
    empty = Database(f"sqlite:///{tmp_path}/empty.sqlite")
    service = Service.create(conf, empty, transport, topic=TOPIC, host="h1",
                             manager=RecordingManager)

    with pytest.raises(exception.ServiceUnavailable, match="db sync"):
        service.start()

    assert service.manager.journal == []
    empty.dispose()


def test_volume_capabilities_reach_the_scheduler_and_get_pools(
        start, transport):
    start(SchedulerManager, topic="scheduler", host="sched-1")
    start(VolumeManager, topic="volume", host="vol-1")
    scheduler = scheduler_rpcapi.SchedulerAPI(transport, timeout=_DEADLINE)

    pools = []
    wait_until(lambda: pools.extend(scheduler.get_pools(ctx())) or pools,
               "the volume host's report")

    (pool,) = pools
    assert pool["host"] == "vol-1"
    assert pool["capabilities"]["driver"] == "fake"
    assert pool["capabilities"]["availability_zone"] == "az-functional"
    assert pool["capabilities"]["total_capacity_gb"] == 1000


def test_scheduler_start_asks_running_volume_hosts_to_report(
        start, transport):
    volume = start(OnlyOnRequestVolumeManager, topic="volume", host="vol-2")
    assert "publish_service_capabilities" not in (
        volume.manager.periodic_task_names())
    start(SchedulerManager, topic="scheduler", host="sched-1")
    scheduler = scheduler_rpcapi.SchedulerAPI(transport, timeout=_DEADLINE)

    pools = []
    wait_until(lambda: pools.extend(scheduler.get_pools(ctx())) or pools,
               "the volume host's report")

    assert [pool["host"] for pool in pools] == ["vol-2"]


# -- ServiceTimers ------------------------------------------------------------

class FakeRecord:
    def __init__(self):
        self.heartbeats = 0

    def heartbeat(self):
        self.heartbeats += 1
        return True


class FakeOwner:
    """A periodic owner returning scripted idle times or raising."""

    def __init__(self, *results):
        self.results = list(results)
        self.calls = 0

    def periodic_tasks(self, context):
        self.calls += 1
        result = self.results.pop(0) if self.results else 0.0
        if isinstance(result, BaseException):
            raise result
        return result


class RecordingSleep:
    def __init__(self):
        self.requests = []

    def __call__(self, seconds):
        self.requests.append(seconds)
        eventlet.sleep(0)


def test_service_timers_heartbeat_every_report_interval():
    record, sleep = FakeRecord(), RecordingSleep()
    timers = ServiceTimers(record, report_interval=7, periodic_interval=1,
                           periodic_fuzzy_delay=0, sleep=sleep)

    timers.start()
    wait_until(lambda: record.heartbeats >= 3, "three heartbeats")
    timers.stop()

    assert set(sleep.requests) == {7}


def test_service_timers_periodic_sleeps_idle_capped_by_interval():
    owner, sleep = FakeOwner(0.5, 10.0, 3.0), RecordingSleep()
    timers = ServiceTimers(FakeRecord(), report_interval=99,
                           periodic_interval=4, periodic_fuzzy_delay=0,
                           periodic_owner=owner, sleep=sleep)

    timers.start()
    wait_until(lambda: owner.calls >= 4, "four periodic runs")
    timers.stop()

    periodic_sleeps = [s for s in sleep.requests if s != 99]
    assert periodic_sleeps[:3] == [0.5, 4, 3.0]


def test_service_timers_fuzzy_delay_comes_first_and_is_bounded():
    owner, sleep = FakeOwner(), RecordingSleep()
    timers = ServiceTimers(FakeRecord(), report_interval=99,
                           periodic_interval=4, periodic_fuzzy_delay=5,
                           periodic_owner=owner, sleep=sleep)

    timers.start()
    wait_until(lambda: owner.calls >= 1, "the first periodic run")
    timers.stop()

    fuzzy = [s for s in sleep.requests if s != 99][0]
    assert 0 <= fuzzy <= 5


def test_service_timers_periodic_loop_survives_its_owner_raising():
    owner = FakeOwner(RuntimeError("loop bug"), 0.0, 0.0)
    sleep = RecordingSleep()
    timers = ServiceTimers(FakeRecord(), report_interval=99,
                           periodic_interval=4, periodic_fuzzy_delay=0,
                           periodic_owner=owner, sleep=sleep)

    timers.start()
    wait_until(lambda: owner.calls >= 3, "runs after the failure")
    timers.stop()

    assert [s for s in sleep.requests if s != 99][0] == 4


def test_service_timers_stop_lets_a_periodic_run_finish():
    journal = []

    class SlowOwner:
        def periodic_tasks(self, context):
            journal.append("started")
            eventlet.sleep(0.3)
            journal.append("done")
            return 60.0

    timers = ServiceTimers(FakeRecord(), report_interval=60,
                           periodic_interval=60, periodic_fuzzy_delay=0,
                           periodic_owner=SlowOwner())
    timers.start()
    wait_until(lambda: "started" in journal, "the periodic run")

    timers.stop(timeout=10)

    assert journal == ["started", "done"]


# -- load_manager -------------------------------------------------------------

def test_load_manager_passes_a_class_through():
    assert load_manager(RecordingManager) is RecordingManager


def test_load_manager_by_dotted_path():
    assert load_manager("capstan_volumes.volume.manager.VolumeManager") is (
        VolumeManager)


@pytest.mark.parametrize("path, reason", [
    ("no_such_pkg.Manager", "No module named 'no_such_pkg'"),
    ("capstan_volumes.volume.manager.NoSuchManager",
     "has no attribute NoSuchManager"),
    ("VolumeManager", "not a dotted path"),
])
def test_load_manager_bad_path_raises_one_line(path, reason):
    with pytest.raises(exception.ManagerNotFound) as info:
        load_manager(path)

    message = str(info.value)
    assert reason in message
    assert "\n" not in message
