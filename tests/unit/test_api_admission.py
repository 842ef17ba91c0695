"""Admission: the backlog bound of one resource's creates, with a hand
clock and a counted database read."""
from __future__ import annotations

import pytest

from capstan.api import admission as admission_module
from capstan.api.admission import Admission
from capstan.common import exception


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Backlog:
    """What the database would read; how often it was asked."""

    def __init__(self, rows: int = 0) -> None:
        self.rows = rows
        self.late = 0
        self.reads = 0
        self.horizons: list[float] = []
        self.error: Exception | None = None

    def __call__(self, max_wait: float,
                 horizon: float) -> admission_module.Backlog:
        self.reads += 1
        self.horizons.append(horizon)
        if self.error is not None:
            raise self.error
        return admission_module.Backlog(self.rows, self.late)


def admission(backlog, clock, limit=3, refresh=1.0, max_wait=0.0):
    return Admission("things", backlog, limit=limit, refresh=refresh,
                     max_wait=max_wait, clock=clock)


def test_admission_refuses_over_the_bound_with_retry_after():
    gate = admission(Backlog(3), Clock())
    with pytest.raises(exception.Overloaded) as refused:
        gate.admit()
    assert refused.value.retry_after == 1
    assert str(refused.value) == ("3 things are being created already (the "
                                  "bound is 3); try again in 1 s.")


def test_admission_counts_its_own_admissions_between_reads():
    backlog, clock = Backlog(1), Clock()
    gate = admission(backlog, clock)
    gate.admit()
    gate.admit()  # 1 read + 2 admitted = 3: the bound
    with pytest.raises(exception.Overloaded):
        gate.admit()
    assert backlog.reads == 1


def test_admission_reads_again_after_the_interval():
    backlog, clock = Backlog(3), Clock()
    gate = admission(backlog, clock)
    with pytest.raises(exception.Overloaded):
        gate.admit()
    backlog.rows = 0  # the workers caught up
    clock.now = 0.5
    with pytest.raises(exception.Overloaded):
        gate.admit()
    clock.now = 1.0
    gate.admit()
    assert backlog.reads == 2


def test_admission_without_a_bound_never_reads():
    backlog = Backlog(10 ** 6)
    gate = admission(backlog, Clock(), limit=0)
    for _ in range(5):
        gate.admit()
    assert backlog.reads == 0


def test_admission_database_away_lets_the_create_say_so():
    backlog = Backlog()
    backlog.error = exception.ServiceUnavailable()
    gate = admission(backlog, Clock())
    gate.admit()  # the create itself will answer 503 from the database


def test_admission_retry_after_is_at_least_the_refresh():
    gate = admission(Backlog(5), Clock(), refresh=2.5)
    with pytest.raises(exception.Overloaded) as refused:
        gate.admit()
    assert refused.value.retry_after == 3


def test_admission_keeps_what_it_admitted_while_the_count_ran():
    clock = Clock()
    gate = None

    def count_while_others_are_admitted(max_wait, horizon):
        # Two creates get in while this read is still running.
        gate.admit()
        gate.admit()
        return admission_module.Backlog(0)

    gate = admission(count_while_others_are_admitted, clock)
    gate.admit()  # reads (0, plus the 2 admitted meanwhile) and admits: 3
    with pytest.raises(exception.Overloaded):
        gate.admit()


def test_admission_refuses_every_create_while_the_whole_backlog_is_late():
    backlog, clock = Backlog(rows=10), Clock()
    gate = admission(backlog, clock, limit=1000, refresh=0.5, max_wait=2.0)
    backlog.late = 10
    for _ in range(3):
        with pytest.raises(exception.Overloaded) as refused:
            gate.admit()
    assert str(refused.value) == ("Creates of things take longer than 2 s "
                                  "(the bound); try again in 1 s.")
    assert refused.value.retry_after == 1
    # Late means created between 14 s (twice the bound and 10 s: older
    # rows are stuck, not queued) and 2 s ago.
    assert backlog.horizons == [4 + admission_module.STUCK_AFTER]
    # The workers caught up with the head of the queue.
    backlog.late = admission_module.MIN_LATE - 1
    clock.now = 0.5
    gate.admit()


def test_admission_refuses_the_late_share_of_creates():
    backlog = Backlog(rows=40)
    backlog.late = 10  # a quarter of the backlog
    gate = admission(backlog, Clock(), limit=1000, max_wait=2.0)
    outcomes = []
    for _ in range(40):
        try:
            gate.admit()
            outcomes.append("in")
        except exception.Overloaded:
            outcomes.append("refused")
    assert outcomes.count("refused") == 10
    assert outcomes[:4] == ["in", "in", "in", "refused"]  # spread, in turn


def test_admission_a_few_late_rows_shed_nothing():
    backlog = Backlog(rows=3)
    backlog.late = admission_module.MIN_LATE - 1
    gate = admission(backlog, Clock(), limit=1000, max_wait=2.0)
    gate.admit()


def test_admission_without_a_wait_bound_counts_only():
    backlog = Backlog()
    admission(backlog, Clock(), limit=3, max_wait=0).admit()
    assert backlog.horizons == [0.0]


def test_admission_wait_bound_alone_still_reads():
    backlog = Backlog(rows=10 ** 6)
    gate = admission(backlog, Clock(), limit=0, max_wait=1.0)
    gate.admit()  # no count bound: a million rows shed nothing
    assert backlog.reads == 1
