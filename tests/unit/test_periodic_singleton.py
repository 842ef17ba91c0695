"""Singleton periodic tasks: run only while the process holds their job.

A fake ``hold`` stands in for Coordination.hold; the schedule runs on the
fake clock of test_periodic.
"""
import logging

import pytest

from capstan.common.periodic import PeriodicTasks, periodic_task
from tests.unit.test_periodic import CONTEXT, FakeClock

JOB = f"{__name__}.Jobs.purge"


class FakeHold:
    """hold(job): answers ``held``, remembers what it was asked."""

    def __init__(self, held: bool = True) -> None:
        self.held = held
        self.asked: list[str] = []

    def __call__(self, job: str) -> bool:
        self.asked.append(job)
        return self.held


class Jobs(PeriodicTasks):
    def __init__(self, clock: FakeClock) -> None:
        self.runs: list[str] = []
        self.init_periodic_tasks(clock=clock)

    @periodic_task(spacing=10, singleton=True)
    def purge(self, context):
        self.runs.append("purge")

    @periodic_task(spacing=10)
    def report(self, context):
        self.runs.append("report")


class MoreJobs(Jobs):
    """Inherits purge: the same job, whichever class runs it."""


@pytest.fixture
def clock():
    return FakeClock()


def run(tasks: Jobs, clock: FakeClock, seconds: float) -> float:
    clock.now += seconds
    return tasks.run_periodic_tasks(CONTEXT)


def test_periodic_task_singleton_is_off_by_default():
    assert Jobs.report._periodic_spec.singleton is False
    assert Jobs.purge._periodic_spec.singleton is True


def test_periodic_task_job_is_the_qualified_name_of_the_method():
    assert Jobs.purge._periodic_spec.job == JOB
    assert MoreJobs._periodic_specs[0].job == JOB


def test_singleton_task_names_lists_only_singleton_tasks(clock):
    assert Jobs(clock).singleton_task_names() == ["purge"]


def test_run_periodic_tasks_singleton_runs_where_the_job_is_held(clock):
    tasks, hold = Jobs(clock), FakeHold(held=True)
    tasks.use_coordination(hold)
    tasks.run_periodic_tasks(CONTEXT)

    run(tasks, clock, 10)

    assert sorted(tasks.runs) == ["purge", "report"]
    assert hold.asked == [JOB]


def test_run_periodic_tasks_singleton_skipped_where_not_held(clock, caplog):
    tasks, hold = Jobs(clock), FakeHold(held=False)
    tasks.use_coordination(hold)
    tasks.run_periodic_tasks(CONTEXT)

    with caplog.at_level(logging.DEBUG, logger="capstan.common.periodic"):
        run(tasks, clock, 10)

    assert tasks.runs == ["report"]
    assert f"skipping periodic task Jobs.purge: job {JOB}" in caplog.text


def test_run_periodic_tasks_singleton_asks_again_one_spacing_later(clock):
    tasks, hold = Jobs(clock), FakeHold(held=False)
    tasks.use_coordination(hold)
    tasks.run_periodic_tasks(CONTEXT)
    run(tasks, clock, 10)

    # A skipped run keeps the rhythm: no asking (nor busy loop) before
    # the next spacing.
    assert run(tasks, clock, 1) == pytest.approx(9)
    assert hold.asked == [JOB]

    hold.held = True
    run(tasks, clock, 9)

    assert hold.asked == [JOB, JOB]
    assert tasks.runs.count("purge") == 1


def test_run_periodic_tasks_singleton_without_coordination_runs(clock):
    # No service gave a hold function (a manager driven by hand).
    tasks = Jobs(clock)
    tasks.run_periodic_tasks(CONTEXT)

    run(tasks, clock, 10)

    assert sorted(tasks.runs) == ["purge", "report"]


def test_run_periodic_tasks_other_tasks_never_ask(clock):
    class Plain(PeriodicTasks):
        @periodic_task(spacing=1)
        def tick(self, context):
            pass

    tasks, hold = Plain(), FakeHold()
    tasks.init_periodic_tasks(clock=clock)
    tasks.use_coordination(hold)
    for _ in range(3):
        run(tasks, clock, 1)

    assert hold.asked == []
    assert tasks.singleton_task_names() == []


def test_run_periodic_tasks_disabled_singleton_is_not_listed(clock):
    class Disabled(PeriodicTasks):
        @periodic_task(spacing=-1, singleton=True)
        def off(self, context):
            pass

    tasks = Disabled()
    tasks.init_periodic_tasks(clock=clock)

    assert tasks.singleton_task_names() == []
