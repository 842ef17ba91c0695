"""BaseService and coordination: only singleton tasks bring a backend in.

Services are built for real (``fake://`` transport, SQLite) on the default
``file://`` backend under a tmp state_path; the timers test uses a fake
coordination.
"""
import eventlet
import pytest

from capstan.api.manager import APIManager
from capstan.common import config
from capstan.common import context as capstan_context
from capstan.common.coordination import Coordination
from capstan.common.manager import Manager
from capstan.common.periodic import periodic_task
from capstan.common.service import Service, ServiceTimers
from capstan.common.wsgi_service import WSGIService
from capstan_volumes.scheduler.manager import SchedulerManager

pytestmark = pytest.mark.timeout(60)


class PlainManager(Manager):
    @periodic_task(spacing=1)
    def tick(self, context):
        pass


class SingletonManager(Manager):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.runs = 0

    @periodic_task(spacing=0, singleton=True)
    def once_per_deployment(self, context):
        self.runs += 1


JOB = f"{__name__}.SingletonManager.once_per_deployment"


@pytest.fixture
def conf(tmp_path):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("graceful_shutdown_timeout", 1)
    conf.set_override("bind_port", 0, group="api")
    return conf


def rpc_service(conf, db, transport, manager):
    return Service.create(conf, db, transport, topic="t", host="h1",
                          manager=manager, periodic_fuzzy_delay=0)


class TrivialLoader:
    def load_app(self, name):
        def app(environ, start_response):
            start_response("204 No Content", [])
            return []
        return app


def test_service_without_singleton_tasks_has_no_coordination(
        conf, db, transport):
    service = rpc_service(conf, db, transport, PlainManager)

    assert service.coordination is None
    assert service.timers.coordination is None


def test_wsgi_service_without_manager_has_no_coordination(conf, db):
    service = WSGIService("main", TrivialLoader(), conf, db=db)
    try:
        assert service.coordination is None
    finally:
        service.close()


def test_wsgi_service_api_manager_gets_a_coordination(conf, db, transport):
    manager = APIManager(conf=conf, host="h1", db=db, transport=transport)
    service = WSGIService("main", TrivialLoader(), conf, db=db,
                          manager=manager)
    try:
        assert isinstance(service.coordination, Coordination)
        assert service.timers.coordination is service.coordination
        assert not service.coordination.connected  # nothing opened yet
    finally:
        service.close()


def test_service_singleton_job_held_from_start_to_stop(conf, db, transport):
    service = rpc_service(conf, db, transport, SingletonManager)
    other = Coordination.from_conf(conf, "h2")
    other.start()
    service.start()
    try:
        assert service.coordination.connected
        service.manager.periodic_tasks(capstan_context.get_admin_context())
        assert service.manager.runs == 1
        assert other.hold(JOB) is False
    finally:
        service.stop()

    # Released on stop: another process takes it at once.
    assert not service.coordination.connected
    assert other.hold(JOB) is True
    other.stop()


def test_service_singleton_task_skipped_while_another_holds(
        conf, db, transport):
    other = Coordination.from_conf(conf, "h2")
    other.start()
    other.hold(JOB)
    service = rpc_service(conf, db, transport, SingletonManager)
    service.start()
    try:
        service.manager.periodic_tasks(capstan_context.get_admin_context())
        assert service.manager.runs == 0
    finally:
        service.stop()
        other.stop()


class CountingCoordination:
    heartbeat_interval = 0.01

    def __init__(self):
        self.beats = 0

    def heartbeat(self):
        self.beats += 1
        if self.beats == 1:
            raise RuntimeError("a bug, not a backend outage")


class QuietRecord:
    host, topic = "h", "t"

    def heartbeat(self):
        return True


def test_service_timers_heartbeat_the_coordination():
    coordination = CountingCoordination()
    timers = ServiceTimers(QuietRecord(), report_interval=10,
                           periodic_interval=10, periodic_fuzzy_delay=0,
                           coordination=coordination)
    timers.start()
    try:
        with eventlet.Timeout(10):
            while coordination.beats < 3:
                eventlet.sleep(0.01)
    finally:
        timers.stop()


def test_once_per_deployment_tasks_are_singletons():
    assert APIManager.purge_deleted_services._periodic_spec.singleton
    assert not APIManager.report_service_states._periodic_spec.singleton
    assert SchedulerManager.resend_stuck_volumes._periodic_spec.singleton
