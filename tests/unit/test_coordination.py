"""Coordination on a fake tooz backend whose locks expire on a fake clock.

The fake behaves like tooz's Redis driver where it matters: a lock expires
``lock_timeout`` seconds after its last refresh, acquiring a lock one
already holds answers False, and every call raises ToozConnectionError
while the backend is down.
"""
import logging

import eventlet
import pytest
import tooz
from tooz import coordination as tooz_coordination

from capstan.common import config, exception
from capstan.common.coordination import Coordination

JOB = "tests.Tasks.job"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeBackend:
    """What several processes' coordinators share: the locks, up or down."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.locks: dict[bytes, tuple[bytes, float]] = {}
        self.up = True
        self.owner_unknown = False
        self.connects: list[bytes] = []

    def check(self) -> None:
        if not self.up:
            raise tooz_coordination.ToozConnectionError("backend is down")

    def owner(self, name: bytes) -> bytes | None:
        entry = self.locks.get(name)
        if entry is None or entry[1] <= self.clock():
            return None
        return entry[0]

    def connect(self, url: str, member_id: bytes,
                lock_timeout: int) -> "FakeCoordinator":
        self.check()
        self.connects.append(member_id)
        return FakeCoordinator(self, member_id, lock_timeout)


class FakeCoordinator:
    def __init__(self, backend: FakeBackend, member_id: bytes,
                 lock_timeout: int) -> None:
        self.backend = backend
        self.member_id = member_id
        self.lock_timeout = lock_timeout
        self.held: set[FakeLock] = set()
        self.stopped = False

    def get_lock(self, name: bytes) -> "FakeLock":
        return FakeLock(self, name)

    def heartbeat(self) -> float:
        self.backend.check()
        for lock in self.held:
            lock.refresh()
        return self.lock_timeout

    def stop(self) -> None:
        for lock in list(self.held):
            lock.release()
        self.stopped = True


class FakeLock:
    def __init__(self, coordinator: FakeCoordinator, name: bytes) -> None:
        self.coordinator = coordinator
        self.backend = coordinator.backend
        self.name = name

    def refresh(self) -> None:
        if self.backend.owner(self.name) == self.coordinator.member_id:
            self.backend.locks[self.name] = (
                self.coordinator.member_id,
                self.backend.clock() + self.coordinator.lock_timeout)

    def acquire(self, blocking: bool = True) -> bool:
        assert blocking is False, "Coordination must never block"
        self.backend.check()
        if self.backend.owner(self.name) is not None:
            return False
        self.backend.locks[self.name] = (
            self.coordinator.member_id,
            self.backend.clock() + self.coordinator.lock_timeout)
        self.coordinator.held.add(self)
        return True

    def release(self) -> bool:
        self.coordinator.held.discard(self)
        self.backend.check()
        if self.backend.owner(self.name) != self.coordinator.member_id:
            return False
        del self.backend.locks[self.name]
        return True

    def is_still_owner(self) -> bool:
        self.backend.check()
        if self.backend.owner_unknown:
            raise tooz.NotImplemented("not implemented")
        return self.backend.owner(self.name) == self.coordinator.member_id


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def backend(clock):
    return FakeBackend(clock)


def make(backend: FakeBackend, host: str = "h1",
         lock_timeout: int = 30) -> Coordination:
    return Coordination("fake://", host=host, lock_timeout=lock_timeout,
                        connect=backend.connect)


def started(backend: FakeBackend, **kwargs) -> Coordination:
    coordination = make(backend, **kwargs)
    coordination.start()
    return coordination


def test_coordination_hold_takes_a_free_job(backend):
    coordination = started(backend)

    assert coordination.hold(JOB) is True
    assert coordination.held_jobs() == [JOB]
    assert backend.owner(JOB.encode()) == backend.connects[0]


def test_coordination_hold_keeps_a_job_it_holds(backend):
    coordination = started(backend)
    coordination.hold(JOB)

    # The backend answers False to a second acquire; hold() must not.
    assert coordination.hold(JOB) is True
    assert coordination.hold(JOB) is True


def test_coordination_hold_is_false_while_another_process_holds(backend):
    first, second = started(backend, host="h1"), started(backend, host="h2")

    assert first.hold(JOB) is True
    assert second.hold(JOB) is False
    assert second.held_jobs() == []


def test_coordination_hold_takes_over_once_the_holders_lock_expires(
        backend, clock):
    holder, other = started(backend), started(backend, host="h2")
    holder.hold(JOB)
    # The holder dies: no more heartbeats.
    clock.now += 29
    assert other.hold(JOB) is False

    clock.now += 1

    assert other.hold(JOB) is True


def test_coordination_heartbeat_keeps_the_job_past_the_lock_timeout(
        backend, clock):
    holder, other = started(backend), started(backend, host="h2")
    holder.hold(JOB)

    for _ in range(10):
        clock.now += holder.heartbeat_interval
        holder.heartbeat()

    assert other.hold(JOB) is False
    assert holder.hold(JOB) is True


def test_coordination_heartbeat_interval_is_a_third_of_the_timeout(backend):
    assert make(backend, lock_timeout=30).heartbeat_interval == 10


def test_coordination_hold_notices_a_lost_job_and_logs_it(
        backend, clock, caplog):
    holder, other = started(backend), started(backend, host="h2")
    holder.hold(JOB)
    clock.now += 30  # the holder stalled past its lock
    other.hold(JOB)

    with caplog.at_level(logging.WARNING):
        assert holder.hold(JOB) is False

    assert holder.held_jobs() == []
    assert f"job {JOB} was lost" in caplog.text


def test_coordination_heartbeat_gives_up_a_lost_job(backend, clock):
    holder, other = started(backend), started(backend, host="h2")
    holder.hold(JOB)
    clock.now += 30
    other.hold(JOB)

    holder.heartbeat()

    assert holder.held_jobs() == []
    assert backend.owner(JOB.encode()) == backend.connects[1]


def test_coordination_stop_frees_the_jobs_for_another_process(backend):
    holder, other = started(backend), started(backend, host="h2")
    holder.hold(JOB)

    holder.stop()

    assert holder.hold(JOB) is False
    assert other.hold(JOB) is True


def test_coordination_hold_before_start_is_false_and_connects_nothing(
        backend):
    coordination = make(backend)

    assert coordination.hold(JOB) is False
    coordination.heartbeat()
    assert backend.connects == []


def test_coordination_start_with_backend_down_warns_once_and_holds_nothing(
        backend, caplog):
    backend.up = False
    coordination = make(backend)

    with caplog.at_level(logging.DEBUG, logger="capstan.common.coordination"):
        coordination.start()
        for _ in range(5):
            assert coordination.hold(JOB) is False
            coordination.heartbeat()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot be reached" in warnings[0].getMessage()
    assert warnings[0].exc_info is None
    assert not coordination.connected


def test_coordination_heartbeat_reconnects_when_the_backend_is_back(
        backend, caplog):
    backend.up = False
    coordination = started(backend)
    backend.up = True

    with caplog.at_level(logging.INFO):
        coordination.heartbeat()

    assert coordination.connected
    assert "is back" in caplog.text
    assert coordination.hold(JOB) is True


def test_coordination_backend_failure_gives_up_jobs_until_it_is_back(
        backend, clock, caplog):
    coordination = started(backend)
    coordination.hold(JOB)
    backend.up = False

    with caplog.at_level(logging.WARNING):
        coordination.heartbeat()
        assert coordination.hold(JOB) is False
        coordination.heartbeat()

    assert coordination.held_jobs() == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert JOB in warnings[0].getMessage()

    backend.up = True
    coordination.heartbeat()
    # The lock it could not release stays until it expires.
    assert coordination.hold(JOB) is False
    clock.now += 30
    assert coordination.hold(JOB) is True


def test_coordination_hold_survives_the_backend_failing_mid_call(backend):
    coordination = started(backend)
    backend.up = False

    assert coordination.hold(JOB) is False
    assert not coordination.connected


def test_coordination_member_id_is_unique_per_connection(backend):
    coordination = started(backend, host="h1")
    coordination.stop()
    coordination.start()
    started(backend, host="h1")

    assert len(set(backend.connects)) == 3
    assert all(member.startswith(b"h1.") for member in backend.connects)


def test_coordination_start_rejects_a_url_that_names_no_backend():
    coordination = Coordination("nosuch://x", host="h", lock_timeout=30)

    with pytest.raises(exception.CapstanError,
                       match=r"\[coordination\] backend_url nosuch://x"):
        coordination.start()


def test_coordination_logs_the_url_without_its_password(backend, caplog):
    backend.up = False
    coordination = Coordination("redis://:s3cret@127.0.0.1:1", host="h",
                                lock_timeout=30, connect=backend.connect)

    with caplog.at_level(logging.WARNING):
        coordination.start()

    assert "s3cret" not in caplog.text
    assert "redis://:***@127.0.0.1:1" in caplog.text


def test_coordination_from_conf_defaults_to_file_locks_under_state_path(
        tmp_path):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))

    coordination = Coordination.from_conf(conf, "h1")

    assert coordination.backend_url == f"file://{tmp_path}/coordination"
    assert coordination.lock_timeout == 30


def test_coordination_file_backend_one_holder_per_job(tmp_path):
    url = f"file://{tmp_path}/coordination"
    first = Coordination(url, host="h", lock_timeout=30)
    second = Coordination(url, host="h", lock_timeout=30)
    first.start()
    second.start()
    try:
        assert first.hold(JOB) is True
        assert second.hold(JOB) is False
        assert first.hold(JOB) is True
        first.stop()
        assert second.hold(JOB) is True
    finally:
        first.stop()
        second.stop()


def test_coordination_trusts_a_lock_that_cannot_tell_its_owner(backend):
    # etcd3's locks raise tooz.NotImplemented: they are trusted for as long
    # as their coordinator lives.
    coordination = started(backend)
    coordination.hold(JOB)
    backend.owner_unknown = True

    assert coordination.hold(JOB) is True


class SlowBackend(FakeBackend):
    """Each connect takes a while (a backend that is slow to answer)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.attempts = 0

    def connect(self, url, member_id, lock_timeout):
        self.attempts += 1
        eventlet.sleep(0.05)
        return super().connect(url, member_id, lock_timeout)


def test_coordination_hold_waits_for_the_first_connect(clock):
    backend = SlowBackend(clock)
    coordination = make(backend)
    starting = eventlet.spawn(coordination.start)
    eventlet.sleep(0)  # start() is now connecting

    assert coordination.hold(JOB) is True
    starting.wait()


def test_coordination_heartbeats_reconnect_one_at_a_time(clock, caplog):
    backend = SlowBackend(clock)
    backend.up = False
    coordination = started(backend)
    backend.up = True

    beats = [eventlet.spawn(coordination.heartbeat) for _ in range(3)]
    # Reconnecting does not hold up hold(): it answers at once.
    assert coordination.hold(JOB) is False
    for beat in beats:
        beat.wait()

    assert backend.attempts == 2  # start(), then one of the heartbeats
    assert coordination.hold(JOB) is True
