"""Periodic tasks on a fake monotonic clock: nothing here sleeps."""
import logging
import math

import eventlet
import greenlet
import pytest

from capstan.common.periodic import PeriodicTasks, periodic_task

CONTEXT = object()


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Tasks(PeriodicTasks):
    """Base of the test task sets: records each run in ``self.runs``."""

    def __init__(self, clock: FakeClock, run_external: bool = True) -> None:
        self.runs: list[str] = []
        self.init_periodic_tasks(clock=clock, run_external=run_external)

    def tick(self, clock: FakeClock, seconds: float = 0.0, **kwargs) -> float:
        clock.advance(seconds)
        return self.run_periodic_tasks(CONTEXT, **kwargs)

    def count(self, name: str) -> int:
        return self.runs.count(name)


class EveryTen(Tasks):
    @periodic_task(spacing=10)
    def every_ten(self, context):
        self.runs.append("every_ten")


@pytest.fixture
def clock():
    return FakeClock()


def test_run_periodic_tasks_respects_spacing(clock):
    tasks = EveryTen(clock)

    tasks.tick(clock)
    tasks.tick(clock, 9.9)
    assert tasks.count("every_ten") == 0

    tasks.tick(clock, 0.1)
    assert tasks.count("every_ten") == 1
    tasks.tick(clock, 5)
    assert tasks.count("every_ten") == 1
    tasks.tick(clock, 5)
    assert tasks.count("every_ten") == 2


def test_run_periodic_tasks_run_immediately_runs_at_first_tick(clock):
    class Immediate(Tasks):
        @periodic_task(spacing=10, run_immediately=True)
        def now(self, context):
            self.runs.append("now")

    tasks = Immediate(clock)

    tasks.tick(clock)
    assert tasks.count("now") == 1
    tasks.tick(clock, 9)
    assert tasks.count("now") == 1
    tasks.tick(clock, 1)
    assert tasks.count("now") == 2


def test_run_periodic_tasks_passes_the_context(clock):
    seen = []

    class Recorder(Tasks):
        @periodic_task
        def record(self, context):
            seen.append(context)

    Recorder(clock).tick(clock)

    assert seen == [CONTEXT]


@pytest.mark.parametrize("decorator", [
    periodic_task(spacing=1, enabled=False),
    periodic_task(spacing=-1),
    periodic_task(spacing=-1, run_immediately=True),
], ids=["enabled_false", "negative_spacing", "negative_immediate"])
def test_periodic_task_disabled_never_runs(clock, decorator):
    class Disabled(Tasks):
        @decorator
        def off(self, context):
            self.runs.append("off")

        @periodic_task
        def on(self, context):
            self.runs.append("on")

    tasks = Disabled(clock)
    for _ in range(5):
        tasks.tick(clock, 100)

    assert tasks.periodic_task_names() == ["on"]
    assert tasks.count("off") == 0
    assert tasks.count("on") == 5


@pytest.mark.parametrize("run_external, expected", [(True, 1), (False, 0)])
def test_periodic_task_external_process_ok_follows_run_external(
        clock, run_external, expected):
    class External(Tasks):
        @periodic_task(external_process_ok=True)
        def elsewhere(self, context):
            self.runs.append("elsewhere")

        @periodic_task
        def here(self, context):
            self.runs.append("here")

    tasks = External(clock, run_external=run_external)
    tasks.tick(clock)

    assert tasks.count("elsewhere") == expected
    assert tasks.count("here") == 1


def test_periodic_task_bare_decorator_runs_every_tick(clock):
    class Bare(Tasks):
        @periodic_task
        def always(self, context):
            self.runs.append("always")

    tasks = Bare(clock)
    for _ in range(3):
        tasks.tick(clock)

    assert tasks.count("always") == 3


def test_periodic_task_override_without_decorator_drops_the_task(clock):
    class Plain(EveryTen):
        def every_ten(self, context):
            self.runs.append("plain")

    plain = Plain(clock)
    plain.tick(clock, 100)
    plain.tick(clock, 100)

    assert plain.periodic_task_names() == []
    assert plain.runs == []
    # The base class keeps its task: collecting a subclass changes nothing
    # above it.
    assert EveryTen(clock).periodic_task_names() == ["every_ten"]


def test_periodic_task_override_with_decorator_takes_the_new_spacing(clock):
    class Faster(EveryTen):
        @periodic_task(spacing=2)
        def every_ten(self, context):
            self.runs.append("every_ten")

    tasks = Faster(clock)
    tasks.tick(clock)
    tasks.tick(clock, 2)

    assert tasks.count("every_ten") == 1


def test_periodic_task_inherited_tasks_run_in_subclass(clock):
    class More(EveryTen):
        @periodic_task
        def extra(self, context):
            self.runs.append("extra")

    tasks = More(clock)

    assert sorted(tasks.periodic_task_names()) == ["every_ten", "extra"]


def test_run_periodic_tasks_schedule_is_per_instance(clock):
    first = EveryTen(clock)
    first.tick(clock)
    clock.advance(5)
    second = EveryTen(clock)
    second.tick(clock)

    clock.advance(5)
    first.tick(clock)
    second.tick(clock)
    assert (first.count("every_ten"), second.count("every_ten")) == (1, 0)

    clock.advance(5)
    first.tick(clock)
    second.tick(clock)
    assert (first.count("every_ten"), second.count("every_ten")) == (1, 1)


class Boom(BaseException):
    """A BaseException that is not one of the fatal ones."""


@pytest.mark.parametrize("error", [
    RuntimeError("boom"), KeyError("k"), eventlet.Timeout(None), Boom(),
], ids=["RuntimeError", "KeyError", "eventlet.Timeout", "BaseException"])
def test_run_periodic_tasks_error_in_one_task_runs_the_others(
        clock, caplog, error):
    class Mixed(Tasks):
        @periodic_task
        def before(self, context):
            self.runs.append("before")

        @periodic_task
        def fails(self, context):
            self.runs.append("fails")
            raise error

        @periodic_task
        def after(self, context):
            self.runs.append("after")

    tasks = Mixed(clock)
    with caplog.at_level(logging.ERROR, logger="capstan.common.periodic"):
        tasks.tick(clock)
        tasks.tick(clock)

    assert tasks.runs == ["before", "fails", "after"] * 2
    failures = [r for r in caplog.records if "fails failed" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info[1] is error


@pytest.mark.parametrize("fatal", [greenlet.GreenletExit, SystemExit,
                                   KeyboardInterrupt])
def test_run_periodic_tasks_fatal_exception_propagates(clock, fatal):
    class Fatal(Tasks):
        @periodic_task
        def dies(self, context):
            raise fatal()

        @periodic_task
        def after(self, context):
            self.runs.append("after")

    with pytest.raises(fatal):
        Fatal(clock).tick(clock)


def test_run_periodic_tasks_returns_time_until_next_due(clock):
    class Two(Tasks):
        @periodic_task(spacing=10)
        def slow(self, context):
            self.runs.append("slow")

        @periodic_task(spacing=3)
        def fast(self, context):
            self.runs.append("fast")

        @periodic_task
        def every_tick(self, context):
            self.runs.append("every_tick")

    tasks = Two(clock)

    assert tasks.tick(clock) == pytest.approx(3)
    assert tasks.tick(clock, 1) == pytest.approx(2)
    assert tasks.tick(clock, 2) == pytest.approx(3)     # fast ran at 3
    assert tasks.tick(clock, 3) == pytest.approx(3)     # fast ran at 6
    assert tasks.tick(clock, 3) == pytest.approx(1)     # slow due at 10
    assert tasks.tick(clock, 1) == pytest.approx(2)     # slow ran; fast at 12
    assert tasks.count("slow") == 1
    assert tasks.count("fast") == 3


def test_run_periodic_tasks_without_spaced_tasks_idles_forever(clock):
    class OnlyTicks(Tasks):
        @periodic_task
        def every_tick(self, context):
            pass

    assert math.isinf(OnlyTicks(clock).tick(clock))


def test_run_periodic_tasks_slow_task_keeps_its_rhythm(clock):
    class Slow(Tasks):
        @periodic_task(spacing=10)
        def slow(self, context):
            self.runs.append("slow")
            clock.advance(4)        # the run itself takes 4 seconds

    tasks = Slow(clock)
    tasks.tick(clock)

    # Ran at 10, finished at 14; the next run is due at 20, not 24.
    assert tasks.tick(clock, 10) == pytest.approx(6)
    tasks.tick(clock, 6)
    assert tasks.count("slow") == 2


def test_run_periodic_tasks_failing_task_keeps_its_schedule(clock):
    class Failing(Tasks):
        @periodic_task(spacing=10)
        def fails(self, context):
            self.runs.append("fails")
            raise RuntimeError("boom")

    tasks = Failing(clock)
    tasks.tick(clock)
    tasks.tick(clock, 10)
    tasks.tick(clock, 1)
    assert tasks.count("fails") == 1

    tasks.tick(clock, 9)
    assert tasks.count("fails") == 2


def test_run_periodic_tasks_raise_on_error_raises_first_after_all_ran(clock):
    class Errors(Tasks):
        @periodic_task
        def first(self, context):
            self.runs.append("first")
            raise ValueError("first")

        @periodic_task
        def ok(self, context):
            self.runs.append("ok")

        @periodic_task
        def second(self, context):
            self.runs.append("second")
            raise KeyError("second")

    tasks = Errors(clock)

    with pytest.raises(ValueError, match="first"):
        tasks.tick(clock, raise_on_error=True)
    assert tasks.runs == ["first", "ok", "second"]


def test_run_periodic_tasks_without_init_uses_monotonic_clock():
    class Forgetful(PeriodicTasks):
        ran = 0

        @periodic_task(run_immediately=True, spacing=3600)
        def once(self, context):
            Forgetful.ran += 1

    tasks = Forgetful()

    assert tasks.periodic_task_names() == ["once"]
    assert tasks.run_periodic_tasks(CONTEXT) > 0
    assert Forgetful.ran == 1


def test_init_periodic_tasks_resets_the_schedule(clock):
    tasks = EveryTen(clock)
    tasks.tick(clock)
    tasks.tick(clock, 10)
    assert tasks.count("every_ten") == 1

    tasks.init_periodic_tasks(clock=clock)
    tasks.tick(clock, 5)
    tasks.tick(clock, 5)
    assert tasks.count("every_ten") == 1
    tasks.tick(clock, 5)
    assert tasks.count("every_ten") == 2
