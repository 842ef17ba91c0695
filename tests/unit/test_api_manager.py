"""APIManager's periodic tasks on SQLite with a hand-driven clock."""
from __future__ import annotations

import datetime
import logging

import pytest

from capstan.api.manager import APIManager
from capstan.common import config, context
from capstan.common.db import migration, models
from capstan.common.db.api import Database
from capstan.common.db.services import Services

START = datetime.datetime(2026, 1, 1, 12, 0, 0)


class Clock:
    """The database's idea of now, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def conf():
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("service_down_time", 60)
    return conf


@pytest.fixture
def db(tmp_path, clock):
    db = Database(f"sqlite:///{tmp_path}/capstan.sqlite", now=clock)
    migration.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def services(db):
    return Services(db)


@pytest.fixture
def manager(conf, db):
    return APIManager(conf=conf, host="api-host", db=db, transport=None)


@pytest.fixture
def ctxt():
    return context.get_admin_context()


def _messages(caplog, level=None):
    return [r.getMessage() for r in caplog.records
            if r.name == "capstan.api.manager" and (level is None or
                                                    r.levelno == level)]


def _row(db, service_id):
    """The row even if soft-deleted; None once hard-deleted."""
    with db.session() as session:
        return session.get(models.Service, service_id)


def test_api_manager_runs_both_tasks(manager):
    assert set(manager.periodic_task_names()) == {
        "report_service_states", "purge_deleted_services"}


def test_report_service_states_first_run_only_takes_baseline(
        manager, services, clock, ctxt, caplog):
    services.create("h1", "worker", "volume")
    clock.advance(seconds=120)  # already down at the first look
    caplog.set_level(logging.INFO, logger="capstan.api.manager")
    manager.report_service_states(ctxt)
    assert _messages(caplog) == []


def test_report_service_states_missed_heartbeats_warns_once(
        manager, services, clock, ctxt, caplog):
    row = services.create("h1", "worker", "volume")
    manager.report_service_states(ctxt)
    clock.advance(seconds=61)
    caplog.set_level(logging.INFO, logger="capstan.api.manager")
    manager.report_service_states(ctxt)
    manager.report_service_states(ctxt)  # still down: nothing new
    assert _messages(caplog) == [
        f"service {row.id} (volume on h1) is down: last heartbeat 61s ago"]
    assert caplog.records[0].levelno == logging.WARNING


def test_report_service_states_clean_stop_is_info(manager, services, ctxt,
                                                  caplog):
    row = services.create("h1", "worker", "volume")
    manager.report_service_states(ctxt)
    services.update(row.id, state="stopped")
    caplog.set_level(logging.INFO, logger="capstan.api.manager")
    manager.report_service_states(ctxt)
    assert _messages(caplog, logging.INFO) == [
        f"service {row.id} (volume on h1) is down: stopped"]
    assert _messages(caplog, logging.WARNING) == []


def test_report_service_states_forced_down_is_info(manager, services, ctxt,
                                                   caplog):
    row = services.create("h1", "worker", "volume")
    manager.report_service_states(ctxt)
    services.update(row.id, forced_down=True)
    caplog.set_level(logging.INFO, logger="capstan.api.manager")
    manager.report_service_states(ctxt)
    assert _messages(caplog, logging.INFO) == [
        f"service {row.id} (volume on h1) is down: forced down"]


def test_report_service_states_recovery_is_logged(manager, services, clock,
                                                  ctxt, caplog):
    row = services.create("h1", "worker", "volume")
    manager.report_service_states(ctxt)
    clock.advance(seconds=90)
    manager.report_service_states(ctxt)
    services.heartbeat(row.id)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="capstan.api.manager")
    manager.report_service_states(ctxt)
    assert _messages(caplog) == [
        f"service {row.id} (volume on h1) is up again"]


def test_report_service_states_new_and_deleted_services_are_quiet(
        manager, services, clock, ctxt, caplog):
    old = services.create("h1", "worker", "volume")
    manager.report_service_states(ctxt)
    services.destroy(old.id)
    services.create("h2", "worker", "volume")
    caplog.set_level(logging.INFO, logger="capstan.api.manager")
    manager.report_service_states(ctxt)
    assert _messages(caplog) == []


def test_report_service_states_state_is_per_instance(conf, db, services,
                                                     clock, ctxt, caplog):
    services.create("h1", "worker", "volume")
    first = APIManager(conf=conf, host="a", db=db, transport=None)
    first.report_service_states(ctxt)
    clock.advance(seconds=61)
    second = APIManager(conf=conf, host="a", db=db, transport=None)
    caplog.set_level(logging.INFO, logger="capstan.api.manager")
    second.report_service_states(ctxt)  # its own first run: baseline
    assert _messages(caplog) == []
    first.report_service_states(ctxt)
    assert len(_messages(caplog, logging.WARNING)) == 1


def test_purge_deleted_services_removes_only_old_deleted_rows(
        manager, conf, db, services, clock, ctxt):
    conf.set_override("deleted_service_retention_days", 30, group="api")
    live = services.create("h1", "worker", "volume")
    old = services.create("h2", "worker", "volume")
    recent = services.create("h3", "worker", "volume")
    services.update(old.id, deleted_at=clock.now -
                    datetime.timedelta(days=31))
    services.update(recent.id, deleted_at=clock.now -
                    datetime.timedelta(days=29))
    manager.purge_deleted_services(ctxt)
    assert _row(db, old.id) is None
    assert _row(db, recent.id).deleted_at is not None
    assert _row(db, live.id).deleted_at is None


def test_purge_deleted_services_zero_retention_keeps_everything(
        manager, conf, db, services, clock, ctxt):
    conf.set_override("deleted_service_retention_days", 0, group="api")
    row = services.create("h1", "worker", "volume")
    services.update(row.id, deleted_at=clock.now -
                    datetime.timedelta(days=3650))
    manager.purge_deleted_services(ctxt)
    assert _row(db, row.id) is not None


def test_periodic_tasks_one_failure_does_not_stop_the_other(
        manager, db, services, clock, ctxt, caplog):
    row = services.create("h1", "worker", "volume")
    services.update(row.id, deleted_at=clock.now -
                    datetime.timedelta(days=365))

    def broken(context):
        raise RuntimeError("boom")

    manager.report_service_states = broken
    manager.periodic_tasks(ctxt)
    assert _row(db, row.id) is None
