"""WSGIService over a real socket on 127.0.0.1, with SQLite and a tmp paste.

The app is a trivial paste app in a tmp ini; the service record, heartbeat
and APIManager periodic tasks run for real on a short interval. Nothing
here asserts how long something took: waits poll with a deadline.
"""
from __future__ import annotations

import datetime
import threading
import time

import eventlet
import pytest
import requests
from eventlet import wsgi as eventlet_wsgi

from capstan.api.manager import APIManager
from capstan.common import config, records
from capstan.common.db import migration, models
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan.common.wsgi_service import Loader, WSGIService

pytestmark = pytest.mark.timeout(120)

DEADLINE = 30  # seconds: generous bound for anything that should be quick

PASTE_INI = """\
[app:main]
paste.app_factory = tests.functional.test_wsgi_service:app_factory
"""


class GatedApp:
    """Answers "hello"; holds requests to /slow until the test releases."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            self.entered.set()
            self.release.wait()
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", "5")])
        return [b"hello"]


def app_factory(global_conf, **local_conf):
    return GatedApp()


def wait_until(predicate, what: str, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        eventlet.sleep(0.05)


@pytest.fixture
def conf(tmp_path):
    paste = tmp_path / "api-paste.ini"
    paste.write_text(PASTE_INI)
    conf = config.make_conf()
    config.load(conf, [])
    for name, value in (("host", "api-test-host"), ("report_interval", 1),
                        ("periodic_interval", 1), ("periodic_fuzzy_delay", 0),
                        ("graceful_shutdown_timeout", 30),
                        ("state_path", str(tmp_path))):
        conf.set_override(name, value)
    conf.set_override("connection", f"sqlite:///{tmp_path}/capstan.sqlite",
                      group="database")
    for name, value in (("bind_port", 0), ("paste_config", str(paste)),
                        ("wsgi_default_pool_size", 10)):
        conf.set_override(name, value, group="api")
    return conf


@pytest.fixture
def db(conf):
    db = Database(conf.database.connection)
    migration.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def make_service(conf, db, monkeypatch):
    """Build WSGIServices that are closed at teardown, whatever happened."""
    # Server sets eventlet's process-wide MAX_HEADER_LINE; give it back.
    monkeypatch.setattr(eventlet_wsgi, "MAX_HEADER_LINE",
                        eventlet_wsgi.MAX_HEADER_LINE)
    services = []

    def factory(manager=None) -> WSGIService:
        loader = Loader(conf.api.paste_config)
        service = WSGIService("main", loader, conf, db=db, manager=manager)
        services.append(service)
        return service

    yield factory
    for service in services:
        service.app.release.set()  # never leave a request parked
        service.close()


def _url(service: WSGIService, path: str = "/") -> str:
    return f"http://{service.host}:{service.port}{path}"


def _get(service: WSGIService, path: str = "/") -> requests.Response:
    return requests.get(_url(service, path), timeout=DEADLINE)


def _record(db: Database, conf) -> models.Service | None:
    return Services(db).get_by_host_topic(conf.host, "api")


def test_wsgi_service_port_zero_reports_a_usable_port(make_service):
    service = make_service()
    assert service.port != 0
    service.start()
    response = _get(service)
    assert response.status_code == 200
    assert response.text == "hello"


def test_wsgi_service_pool_is_reused_and_reset_restores_size(make_service,
                                                             conf):
    service = make_service()
    pool = service.pool
    service.start()
    assert _get(service).status_code == 200
    service.stop()
    service.wait()
    service.start()
    assert service.pool is pool
    assert _get(service).status_code == 200
    pool.resize(3)
    service.reset()
    assert service.pool.size == conf.api.wsgi_default_pool_size


def test_wsgi_service_graceful_stop_lets_request_in_flight_finish(
        make_service, db, conf):
    service = make_service()
    service.start()
    request = eventlet.spawn(_get, service, "/slow")
    assert service.app.entered.wait(DEADLINE)
    stopper = eventlet.spawn(service.stop)
    # The request is held, so the stop cannot have finished: it drains.
    wait_until(lambda: service.stopping, "the stop to begin")
    assert not stopper.dead
    assert _record(db, conf).state == "running"
    service.app.release.set()
    response = request.wait()
    assert (response.status_code, response.text) == (200, "hello")
    stopper.wait()
    assert _record(db, conf).state == "stopped"


def test_wsgi_service_immediate_stop_cuts_a_graceful_drain_short(
        make_service):
    service = make_service()
    service.start()
    request = eventlet.spawn(_get, service, "/slow")
    assert service.app.entered.wait(DEADLINE)
    stopper = eventlet.spawn(service.stop)
    wait_until(lambda: service.stopping, "the stop to begin")
    service.stop(graceful=False)
    stopper.wait()
    with pytest.raises(requests.ConnectionError):
        request.wait()


def test_wsgi_service_record_has_topic_api_and_heartbeats(make_service, db,
                                                          conf):
    service = make_service()
    service.start()
    row = _record(db, conf)
    assert (row.id, row.binary, row.topic, row.state) == (
        service.service_id, "api-server", "api", "running")
    first = row.report_count
    wait_until(lambda: _record(db, conf).report_count > first,
               "a heartbeat")
    assert records.is_up(_record(db, conf), now=db.now(),
                         service_down_time=conf.service_down_time)
    service.stop()
    assert not records.is_up(_record(db, conf), now=db.now(),
                             service_down_time=conf.service_down_time)


def test_wsgi_service_runs_the_api_manager_periodic_tasks(make_service, db,
                                                          conf):
    services = Services(db)
    old = services.create("gone-host", "worker", "volume")
    services.update(old.id, deleted_at=db.now() - datetime.timedelta(
        days=conf.api.deleted_service_retention_days + 1))
    manager = APIManager(conf=conf, host=conf.host, db=db, transport=None)
    service = make_service(manager=manager)
    service.start()

    def purged():
        with db.session() as session:
            return session.get(models.Service, old.id) is None

    wait_until(purged, "purge_deleted_services to run")


def test_wsgi_service_start_refuses_a_database_without_schema(
        make_service, conf, tmp_path):
    from capstan.common import exception

    conf.set_override("connection", f"sqlite:///{tmp_path}/empty.sqlite",
                      group="database")
    empty = Database(conf.database.connection)
    service = WSGIService("main", Loader(conf.api.paste_config), conf,
                          db=empty)
    try:
        with pytest.raises(exception.ServiceUnavailable,
                           match="capstan-manage db sync"):
            service.start()
    finally:
        service.close()
        empty.dispose()
