"""ServiceTimers: the heartbeat and periodic loops keep going."""
import eventlet
import pytest

from capstan.common.service import ServiceTimers


class FlakyRecord:
    """A record whose first heartbeats raise a bug-like error."""

    host, topic = "h", "t"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.beats = 0

    def heartbeat(self) -> bool:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("a bug, not a database outage")
        self.beats += 1
        return True


class Owner:
    def __init__(self) -> None:
        self.runs = 0

    def periodic_tasks(self, context) -> float:
        self.runs += 1
        if self.runs == 1:
            raise ValueError("the loop itself failed once")
        return 0.0


def wait_for(predicate, deadline: float = 10.0) -> None:
    with eventlet.Timeout(deadline):
        while not predicate():
            eventlet.sleep(0.01)


@pytest.mark.timeout(30)
def test_service_timers_heartbeat_survives_unexpected_error():
    record = FlakyRecord(failures=2)
    timers = ServiceTimers(record, report_interval=0.01, periodic_interval=1,
                           periodic_fuzzy_delay=0)
    timers.start()
    try:
        wait_for(lambda: record.beats >= 3)
    finally:
        timers.stop()


@pytest.mark.timeout(30)
def test_service_timers_periodic_loop_survives_failing_run():
    owner = Owner()
    timers = ServiceTimers(FlakyRecord(0), report_interval=10,
                           periodic_interval=0.01, periodic_fuzzy_delay=0,
                           periodic_owner=owner)
    timers.start()
    try:
        wait_for(lambda: owner.runs >= 3)
    finally:
        timers.stop()
    assert not timers._periodic_busy
