"""Service records and the heartbeat, on SQLite and PostgreSQL.

Time is a fake clock injected into the Database (``Database.now``), so
"stale" and "old" never depend on how fast the test runs.
"""
import datetime
import logging

import pytest

from capstan.common import exception
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan.common.records import ServiceRecord, is_up

DOWN_TIME = 60
HOST = "host-a"
TOPIC = "volume"


class FakeClock:
    """Naive-UTC wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.value = datetime.datetime(2031, 5, 6, 7, 8, 9)

    def __call__(self) -> datetime.datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += datetime.timedelta(seconds=seconds)


class FlakyServices(Services):
    """The real queries, but heartbeats fail while ``outage`` is above 0."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outage = 0

    def heartbeat(self, service_id):
        if self.outage > 0:
            self.outage -= 1
            raise exception.ServiceUnavailable("database unavailable: test")
        return super().heartbeat(service_id)


@pytest.fixture
def services(database):
    return Services(database)


@pytest.fixture
def clock(database):
    fake = FakeClock()
    database.now = fake
    return fake


def record_for(db, host=HOST, topic=TOPIC, binary="worker", services=None):
    return ServiceRecord(db, host=host, binary=binary, topic=topic,
                         services=services)


def up(db, service_id) -> bool:
    return is_up(Services(db).get(service_id), now=db.now(),
                 service_down_time=DOWN_TIME)


def test_register_creates_the_row_then_reuses_it(database, services, clock):
    first = record_for(database).register()
    second = record_for(database, binary="worker2").register()

    assert first == second
    rows = services.get_all()
    assert [(r.id, r.host, r.topic, r.binary, r.state) for r in rows] == [
        (first, HOST, TOPIC, "worker2", "running")]


def test_register_marks_a_stopped_record_running(database, services, clock):
    record = record_for(database)
    service_id = record.register()
    record.mark_stopped()

    assert record_for(database).register() == service_id
    assert services.get(service_id).state == "running"
    assert up(database, service_id)


def test_register_keeps_one_record_per_topic_on_a_host(
        database, services, clock):
    volume = record_for(database, topic="volume").register()
    scheduler = record_for(database, topic="scheduler").register()

    assert volume != scheduler
    assert len(services.get_all(host=HOST)) == 2


def test_heartbeat_bumps_report_count_and_last_seen_up(
        database, services, clock):
    record = record_for(database)
    service_id = record.register()
    before = services.get(service_id)

    clock.advance(10)
    assert record.heartbeat() is True

    after = services.get(service_id)
    assert after.report_count == before.report_count + 1
    assert after.last_seen_up == clock.value
    assert after.last_seen_up > before.last_seen_up


def test_is_up_for_a_fresh_record(database, clock):
    service_id = record_for(database).register()

    assert up(database, service_id)


def test_is_up_false_when_forced_down(database, services, clock):
    service_id = record_for(database).register()

    services.update(service_id, forced_down=True)

    assert not up(database, service_id)


def test_is_up_false_once_stopped(database, services, clock):
    record = record_for(database)
    service_id = record.register()

    record.mark_stopped()

    assert services.get(service_id).state == "stopped"
    assert not up(database, service_id)


def test_is_up_false_when_last_seen_up_is_stale(database, clock):
    record = record_for(database)
    service_id = record.register()

    clock.advance(DOWN_TIME)
    assert up(database, service_id)
    clock.advance(1)
    assert not up(database, service_id)

    record.heartbeat()
    assert up(database, service_id)


def test_is_up_false_without_last_seen_up(database, services, clock):
    service_id = record_for(database).register()
    row = services.update(service_id, last_seen_up=None)

    assert not is_up(row, now=clock(), service_down_time=DOWN_TIME)


@pytest.mark.parametrize("values", [
    {"disabled": True, "disabled_reason": "maintenance"},
    {"disabled": False, "disabled_reason": None},
], ids=["disable", "enable"])
def test_service_update_disable_never_touches_last_seen_up(
        database, services, clock, values):
    service_id = record_for(database).register()
    seen = services.get(service_id).last_seen_up

    clock.advance(30)
    row = services.update(service_id, **values)

    assert row.last_seen_up == seen
    assert services.get(service_id).last_seen_up == seen
    assert services.get(service_id).disabled is values["disabled"]


def test_heartbeat_survives_an_outage_and_logs_failure_once_and_recovery(
        database, services, clock, caplog):
    flaky = FlakyServices(database)
    record = record_for(database, services=flaky)
    service_id = record.register()
    count = flaky.get(service_id).report_count

    flaky.outage = 3
    with caplog.at_level(logging.DEBUG, logger="capstan.common.records"):
        results = [record.heartbeat() for _ in range(4)]

    assert results == [False, False, False, True]
    assert services.get(service_id).report_count == count + 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "heartbeat of host-a/volume failed" in warnings[0].getMessage()
    recoveries = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(recoveries) == 1
    assert recoveries[0].levelno == logging.INFO
    assert "after 3 failed attempts" in recoveries[0].getMessage()


def test_heartbeat_after_recovery_logs_a_new_outage_again(
        database, clock, caplog):
    flaky = FlakyServices(database)
    record = record_for(database, services=flaky)
    record.register()

    with caplog.at_level(logging.WARNING, logger="capstan.common.records"):
        flaky.outage = 1
        record.heartbeat()
        record.heartbeat()
        flaky.outage = 1
        record.heartbeat()

    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 2


@pytest.mark.parametrize("dead_url", [
    "postgresql+psycopg://postgres@127.0.0.1:1/capstan",
    "sqlite:///{tmp_path}/no/such/dir/capstan.sqlite",
], ids=["postgresql_dead_port", "sqlite_missing_dir"])
def test_heartbeat_against_an_unreachable_database_returns_false(
        tmp_path, caplog, dead_url):
    db = Database(dead_url.format(tmp_path=tmp_path))
    record = record_for(db)
    record.service_id = 1

    with caplog.at_level(logging.WARNING, logger="capstan.common.records"):
        assert record.heartbeat() is False
        assert record.heartbeat() is False
    db.dispose()

    assert len(caplog.records) == 1
    assert "\n" not in caplog.records[0].getMessage()


def test_heartbeat_registers_again_if_the_row_was_deleted(
        database, services, clock):
    record = record_for(database)
    old_id = record.register()

    services.destroy(old_id)
    assert record.heartbeat() is True

    assert record.service_id != old_id
    live = services.get_by_host_topic(HOST, TOPIC)
    assert live.id == record.service_id
    assert live.state == "running"
    with pytest.raises(exception.ServiceNotFound):
        services.get(old_id)


def test_mark_stopped_of_a_deleted_record_is_quiet(database, services, clock):
    record = record_for(database)
    record.register()
    record.destroy()

    record.mark_stopped()
    record.destroy()

    assert services.get_all() == []


def test_destroy_soft_deletes_the_record(database, services, clock):
    record = record_for(database)
    service_id = record.register()

    record.destroy()

    assert services.get_by_host_topic(HOST, TOPIC) is None
    with pytest.raises(exception.ServiceNotFound):
        services.get(service_id)


def _stopped(db, host, topic=TOPIC, disabled=False):
    record = record_for(db, host=host, topic=topic)
    service_id = record.register()
    if disabled:
        Services(db).update(service_id, disabled=True)
    record.mark_stopped()
    return service_id


def test_cleanup_stale_removes_only_old_stopped_enabled_of_the_topic(
        database, services, clock):
    old_stopped = _stopped(database, "old-stopped")
    old_disabled = _stopped(database, "old-disabled", disabled=True)
    old_other_topic = _stopped(database, "old-other-topic", topic="scheduler")
    own = _stopped(database, HOST)
    running = record_for(database, host="running").register()

    clock.advance(DOWN_TIME + 1)
    recent_stopped = _stopped(database, "recent-stopped")

    me = record_for(database)
    assert me.cleanup_stale(DOWN_TIME) == 1

    live = {row.id for row in services.get_all()}
    assert old_stopped not in live
    assert live == {old_disabled, old_other_topic, own, running,
                    recent_stopped}


def test_cleanup_stale_keeps_records_stopped_within_down_time(
        database, services, clock):
    _stopped(database, "other")

    clock.advance(DOWN_TIME - 1)

    assert record_for(database).cleanup_stale(DOWN_TIME) == 0
    assert len(services.get_all()) == 1


def test_register_records_the_rpc_version(database, services, clock):
    record = ServiceRecord(database, host=HOST, binary="worker",
                           topic=TOPIC, rpc_version="1.0")
    service_id = record.register()
    assert services.get(service_id).rpc_version == "1.0"


def test_upgraded_service_overwrites_its_rpc_version(
        database, services, clock):
    ServiceRecord(database, host=HOST, binary="worker", topic=TOPIC,
                  rpc_version="1.0").register()
    service_id = ServiceRecord(database, host=HOST, binary="worker",
                               topic=TOPIC, rpc_version="1.1").register()
    assert services.get(service_id).rpc_version == "1.1"
    assert [row.rpc_version for row in services.get_rpc_versions(TOPIC)] \
        == ["1.1"]
