"""The RPC version cap of a topic: pinned in config, or the lowest version
its service records carry (SQLite and PostgreSQL)."""
import datetime
import threading
import types

import pytest
from sqlalchemy import exc as sa_exc

from capstan.common import config, exception
from capstan.common.db.services import Services
from capstan.common.records import ServiceRecord
from capstan.common.upgrade_levels import UpgradeLevels

TOPIC = "volume"
DOWN_TIME = 60


class FakeClock:
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self):
        return self.value


@pytest.fixture
def conf():
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("service_down_time", DOWN_TIME)
    return conf


@pytest.fixture
def wall(database):
    now = [datetime.datetime(2031, 5, 6, 7, 8, 9)]
    database.now = lambda: now[0]
    return now


@pytest.fixture
def levels(conf, database):
    return UpgradeLevels(conf, Services(database), clock=FakeClock())


def register(db, host, version, topic=TOPIC):
    record = ServiceRecord(db, host=host, binary="worker", topic=topic,
                           rpc_version=version)
    record.register()
    return record


def test_cap_is_the_oldest_running_service(database, wall, levels):
    register(database, "old", "1.0")
    register(database, "new", "1.1")
    assert levels.cap(TOPIC) == "1.0"


def test_cap_is_the_common_version_when_all_are_upgraded(
        database, wall, levels):
    register(database, "a", "1.1")
    register(database, "b", "1.1")
    assert levels.cap(TOPIC) == "1.1"


def test_no_record_means_no_cap(database, wall, levels):
    register(database, "other", "1.0", topic="elsewhere")
    assert levels.cap(TOPIC) is None


def test_no_record_is_not_cached(database, wall, levels):
    assert levels.cap(TOPIC) is None
    register(database, "old", "1.0")  # registers within the cache's TTL
    assert levels.cap(TOPIC) == "1.0"


def test_pin_in_config_wins(conf, database, wall, levels):
    register(database, "old", "1.0")
    conf.set_override(TOPIC, "1.3", group="upgrade_levels")
    assert levels.cap(TOPIC) == "1.3"


def test_malformed_pin_fails_at_load(tmp_path):
    path = tmp_path / "capstan.conf"
    path.write_text(f"[upgrade_levels]\n{TOPIC} = latest\n")
    with pytest.raises(config.ConfigError, match="upgrade_levels"):
        config.load(config.make_conf(), ["--config-file", str(path)])


def test_stopped_service_does_not_hold_the_cap_back(database, wall, levels):
    register(database, "old", "1.0").mark_stopped()
    register(database, "new", "1.1")
    assert levels.cap(TOPIC) == "1.1"


def test_down_service_does_not_hold_the_cap_back(database, wall, levels):
    register(database, "old", "1.0")
    wall[0] += datetime.timedelta(seconds=DOWN_TIME + 1)
    register(database, "new", "1.1")
    assert levels.cap(TOPIC) == "1.1"


def test_deleted_service_does_not_hold_the_cap_back(database, wall, levels):
    register(database, "old", "1.0").destroy()
    register(database, "new", "1.1")
    assert levels.cap(TOPIC) == "1.1"


def test_when_none_is_up_every_live_record_counts(database, wall, levels):
    register(database, "old", "1.0").mark_stopped()
    register(database, "new", "1.1").mark_stopped()
    assert levels.cap(TOPIC) == "1.0"


def test_record_without_version_counts_as_1_0(database, wall, levels):
    register(database, "before-c0004", None)
    register(database, "new", "1.1")
    assert levels.cap(TOPIC) == "1.0"


def test_upgraded_service_raises_the_cap_after_the_cache(
        conf, database, wall):
    clock = FakeClock()
    levels = UpgradeLevels(conf, Services(database), ttl=30, clock=clock)
    register(database, "h", "1.0")
    assert levels.cap(TOPIC) == "1.0"
    register(database, "h", "1.1")  # the same host, restarted upgraded
    clock.value = 29
    assert levels.cap(TOPIC) == "1.0"  # cached: no query
    clock.value = 31
    assert levels.cap(TOPIC) == "1.1"


def test_forget_drops_the_cache(database, wall, levels):
    register(database, "h", "1.0")
    assert levels.cap(TOPIC) == "1.0"
    register(database, "h", "1.1")
    levels.forget(TOPIC)
    assert levels.cap(TOPIC) == "1.1"


class CountingServices:
    """Answers one stopped service at 1.0 and counts the queries; fails
    when told to."""

    STOPPED = types.SimpleNamespace(state="stopped", forced_down=False,
                                    last_seen_up=None, rpc_version="1.0")

    def __init__(self, db):
        self.db = db
        self.queries = 0
        self.failing = False

    def get_rpc_versions(self, topic):
        self.queries += 1
        if self.failing:
            raise sa_exc.OperationalError("select", {}, Exception("down"))
        return [self.STOPPED]


def test_cached_cap_costs_no_query(conf, db):
    services = CountingServices(db)
    levels = UpgradeLevels(conf, services, clock=FakeClock())
    for _ in range(100):
        assert levels.cap(TOPIC) == "1.0"
    assert services.queries == 1


def test_stale_cap_is_used_while_the_database_is_away(conf, db):
    clock, services = FakeClock(), CountingServices(db)
    levels = UpgradeLevels(conf, services, ttl=30, clock=clock)
    assert levels.cap(TOPIC) == "1.0"
    services.failing, clock.value = True, 60
    assert levels.cap(TOPIC) == "1.0"


def test_database_away_and_nothing_cached_raises(conf, db):
    services = CountingServices(db)
    services.failing = True
    levels = UpgradeLevels(conf, services)
    with pytest.raises((sa_exc.SQLAlchemyError,
                        exception.ServiceUnavailable)):
        levels.cap(TOPIC)


def test_no_services_means_no_automatic_cap(conf):
    assert UpgradeLevels(conf, None).cap(TOPIC) is None


def test_topic_without_option_is_automatic(conf, database, wall, levels):
    register(database, "h", "1.2", topic="undeclared")
    assert levels.cap("undeclared") == "1.2"


def test_cap_is_consistent_under_real_threads(conf, database, wall):
    # NOTE: the monkey patch makes these green threads in the test run;
    # the lock and the cache are the same code under real threads.
    register(database, "h", "1.1")
    levels = UpgradeLevels(conf, Services(database))
    answers, errors = [], []

    def ask():
        try:
            for _ in range(20):
                answers.append(levels.cap(TOPIC))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert set(answers) == {"1.1"} and len(answers) == 160


def test_cache_lifetime_comes_from_the_config(conf, database):
    assert UpgradeLevels(conf, Services(database)).ttl == 30.0
    conf.set_override("auto_cache_seconds", 2.5, group="upgrade_levels")
    assert UpgradeLevels(conf, Services(database)).ttl == 2.5
