"""BaseService: the RPC Service and the WSGIService share one life cycle.

Each kind is built for real (a ``fake://`` transport, a loopback socket,
SQLite with the schema at head); its record and timers are then swapped for
fakes that write to the same journal as the manager, so one expected
journal holds for both kinds.
"""
import eventlet
import pytest

from capstan.common import config
from capstan.common.service import BaseService, Service
from capstan.common.wsgi_service import WSGIService

pytestmark = pytest.mark.timeout(60)

SERVICE_ID = 7


class FakeRecord:
    host, binary, topic = "h1", "fake-binary", "fake-topic"

    def __init__(self, journal):
        self.journal = journal
        self.service_id = None

    def register(self):
        self.journal.append("register")
        self.service_id = SERVICE_ID
        return SERVICE_ID

    def cleanup_stale(self, service_down_time):
        self.journal.append("cleanup_stale")

    def mark_stopped(self):
        self.journal.append("mark_stopped")

    def destroy(self):
        self.journal.append("destroy")


class FakeTimers:
    def __init__(self, journal):
        self.journal = journal

    def start(self):
        self.journal.append("timers start")

    def stop(self, timeout=None):
        self.journal.append("timers stop")


class FakeManager:
    """Journals the hooks a service calls; serves no RPC method."""

    def __init__(self, journal):
        self.journal = journal

    def init_host(self, service_id):
        self.journal.append(("init_host", service_id))

    def pre_start_hook(self, service_id):
        self.journal.append(("pre_start_hook", service_id))

    def post_start_hook(self, service_id):
        self.journal.append(("post_start_hook", service_id))

    def is_ready(self):
        return True

    def reset(self):
        self.journal.append("manager reset")

    def periodic_tasks(self, context):
        return 60.0


STARTED = ["register", "cleanup_stale", ("init_host", SERVICE_ID),
           ("pre_start_hook", SERVICE_ID), ("post_start_hook", SERVICE_ID),
           "timers start"]
STOPPED = ["timers stop", "mark_stopped"]


@pytest.fixture
def conf(tmp_path):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("graceful_shutdown_timeout", 5)
    conf.set_override("bind_host", "127.0.0.1", group="api")
    conf.set_override("bind_port", 0, group="api")
    return conf


class TrivialLoader:
    def load_app(self, name):
        def app(environ, start_response):
            start_response("204 No Content", [])
            return []
        return app


def _build(kind, conf, db, transport, journal):
    manager = FakeManager(journal)
    if kind == "rpc":
        service = Service(conf=conf, db=db, transport=transport, host="h1",
                          binary="worker", topic="fake-topic",
                          manager=manager, report_interval=60,
                          periodic_interval=60, periodic_fuzzy_delay=0)
    else:
        service = WSGIService("main", TrivialLoader(), conf, db=db,
                              manager=manager)
    service.record = FakeRecord(journal)
    service.timers = FakeTimers(journal)
    return service


@pytest.fixture(params=["rpc", "wsgi"])
def built(request, conf, db, transport):
    """(service, journal) for each kind; the service is stopped at the end."""
    journal = []
    service = _build(request.param, conf, db, transport, journal)
    yield service, journal
    service.stop(graceful=False)
    if isinstance(service, WSGIService):
        service.close()


def test_base_service_both_kinds_are_base_services(conf, db, transport):
    for kind in ("rpc", "wsgi"):
        service = _build(kind, conf, db, transport, [])
        assert isinstance(service, BaseService)
        if kind == "wsgi":
            service.close()


def test_base_service_start_stop_drive_record_hooks_and_timers(built):
    service, journal = built

    service.start()
    assert journal == STARTED
    assert service.service_id == SERVICE_ID
    service.stop()

    assert journal == STARTED + STOPPED
    assert service.wait() is True
    assert service.stopping


def test_base_service_stop_twice_marks_the_record_once(built):
    service, journal = built
    service.start()

    service.stop()
    service.stop()
    service.stop(graceful=False)

    assert journal.count("mark_stopped") == 1


def test_base_service_stop_before_start_does_nothing(built):
    service, journal = built

    service.stop()

    assert journal == []
    assert service.wait() is True


def test_base_service_start_while_running_does_nothing(built):
    service, journal = built
    service.start()

    service.start()

    assert journal == STARTED


def test_base_service_restart_after_stop_runs_the_whole_start(built):
    service, journal = built
    service.start()
    service.stop()

    service.start()

    assert journal == STARTED + STOPPED + STARTED
    assert not service.stopping
    waiter = eventlet.spawn(service.wait)
    eventlet.sleep(0)
    assert not waiter.dead  # a new run: wait() blocks again
    service.stop()
    assert waiter.wait() is True


def test_base_service_reset_reaches_the_manager(built):
    service, journal = built
    service.start()

    service.reset()

    assert journal[-1] == "manager reset"


def test_base_service_kill_stops_then_destroys_the_record(built):
    service, journal = built
    service.start()

    service.kill()

    assert journal == STARTED + STOPPED + ["destroy"]


class GivingUpService(BaseService):
    """A kind whose stop gives up on its work unless cut short first."""

    def __init__(self, conf, db, journal):
        super().__init__(conf=conf, db=db, manager=None, host="h1",
                         binary="b", topic="t", report_interval=60,
                         periodic_interval=60, periodic_fuzzy_delay=0)
        self.record = FakeRecord(journal)
        self.timers = FakeTimers(journal)
        self.journal = journal

    def _start_serving(self):
        self.journal.append("serve")

    def _serving_on(self):
        return "nothing"

    def _stop_serving(self, graceful, timeout):
        self.journal.append(("stop serving", graceful, timeout))
        return False


def test_base_service_without_manager_skips_hooks_and_reports_unclean(
        conf, db):
    journal = []
    service = GivingUpService(conf, db, journal)

    service.start()
    service.reset()
    service.stop(graceful=False)

    assert journal == ["register", "cleanup_stale", "serve", "timers start",
                       ("stop serving", False, 0)] + STOPPED
    assert service.wait() is False
