"""Periodic tasks: methods a service runs on a schedule.

Mark a Manager (or any :class:`PeriodicTasks`) method with
``@periodic_task(spacing=N)``. Tasks are collected per class when the class
is defined (``__init_subclass__``, no metaclass); the schedule is kept per
instance on a monotonic clock. The owning service calls
:meth:`PeriodicTasks.run_periodic_tasks` in a loop and sleeps for the time it
returns; the task methods themselves never spawn or sleep.

A task marked ``singleton=True`` is a job for one process of the
deployment at a time: before each run the instance asks the ``hold``
function its service gave it (:meth:`PeriodicTasks.use_coordination`,
backed by :class:`capstan.common.coordination.Coordination`) whether this
process holds the task's job, named after the task's qualified name
(:attr:`TaskSpec.job`); if not, the run is skipped and tried again one
spacing later.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable

import greenlet

LOG = logging.getLogger(__name__)

# Spacing of a task declared without one: it runs at every tick of the
# service's periodic loop, which is at most [DEFAULT] periodic_interval.
DEFAULT_SPACING = 0.0

# Never swallowed: they are how a green thread is killed and a process ends.
_FATAL = (greenlet.GreenletExit, SystemExit, KeyboardInterrupt)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    name: str
    spacing: float
    run_immediately: bool
    enabled: bool
    external_process_ok: bool
    singleton: bool = False
    # The job's name, from the qualified name of the method that defines
    # the task: the lock a singleton task is held by.
    job: str = ""

# hold(job) -> whether this process runs the job now (never blocks).
Hold = Callable[[str], bool]


def periodic_task(fn: Callable | None = None, *, spacing: float = 0,
                  run_immediately: bool = False, enabled: bool = True,
                  external_process_ok: bool = False,
                  singleton: bool = False) -> Callable:
    """Mark a method ``f(self, context)`` as a periodic task.

    ``spacing``: seconds between runs; 0 runs at every tick; a negative
    value disables the task. ``run_immediately``: the first run is at the
    first tick instead of one spacing after it. ``external_process_ok``: the
    task may run in another process instead, and is skipped here when
    ``[DEFAULT] run_external_periodic_tasks`` is False. ``singleton``: the
    task runs in one process of the deployment at a time, the one that
    holds its job through ``[coordination] backend_url``; every other
    process skips it, and takes it over when that one dies (within
    ``[coordination] lock_timeout`` plus ``spacing``).
    Usable bare (``@periodic_task``) or with arguments.
    """
    def decorator(func: Callable) -> Callable:
        func._periodic_spec = TaskSpec(
            name=func.__name__, spacing=float(spacing),
            run_immediately=run_immediately,
            enabled=enabled and spacing >= 0,
            external_process_ok=external_process_ok, singleton=singleton,
            job=f"{func.__module__}.{func.__qualname__}")
        return func

    return decorator(fn) if fn is not None else decorator


class PeriodicTasks:
    """Mixin that finds its periodic tasks and runs the ones that are due."""

    _periodic_specs: tuple[TaskSpec, ...] = ()
    # None: singleton tasks run here like any other (no service gave a
    # hold function: a manager driven by hand, a test).
    _periodic_hold: Hold | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs = {}
        # Walk the MRO from the base up so a subclass's definition wins,
        # and an override without the decorator drops the task.
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                spec = getattr(value, "_periodic_spec", None)
                if spec is not None:
                    specs[name] = spec
                else:
                    specs.pop(name, None)
        cls._periodic_specs = tuple(specs.values())

    def init_periodic_tasks(self, *, clock: Callable[[], float] = time.monotonic,
                            run_external: bool = True) -> None:
        """Reset the schedule; call from ``__init__`` (and on reset)."""
        self._periodic_clock = clock
        self._periodic_last_run: dict[str, float] = {}
        self._periodic_started_at: float | None = None
        self._periodic_active = [
            spec for spec in self._periodic_specs
            if spec.enabled and (run_external or not spec.external_process_ok)]
        for spec in self._periodic_specs:
            if spec not in self._periodic_active:
                LOG.info("periodic task %s.%s is disabled",
                         type(self).__name__, spec.name)

    def periodic_task_names(self) -> list[str]:
        """Names of the tasks this instance will run."""
        self._ensure_periodic_state()
        return [spec.name for spec in self._periodic_active]

    def singleton_task_names(self) -> list[str]:
        """Names of the tasks this instance runs only while it holds them."""
        self._ensure_periodic_state()
        return [spec.name for spec in self._periodic_active if spec.singleton]

    def use_coordination(self, hold: Hold | None) -> None:
        """Run singleton tasks only when ``hold(spec.job)`` says so.

        The service calls this with
        :meth:`capstan.common.coordination.Coordination.hold`.
        """
        self._periodic_hold = hold

    def run_periodic_tasks(self, context: Any,
                           raise_on_error: bool = False) -> float:
        """Run every due task once; return seconds until the next is due.

        One task's failure is logged and never stops the others, unless
        ``raise_on_error`` is set (for tests), in which case the first
        failure is raised after every due task has run.
        """
        self._ensure_periodic_state()
        clock = self._periodic_clock
        if self._periodic_started_at is None:
            self._periodic_started_at = clock()
        first_error: BaseException | None = None
        for spec in self._periodic_active:
            if self._seconds_until_due(spec, clock()) > 0:
                continue
            # Recorded before the run: a slow or failing task keeps its
            # rhythm instead of drifting by its own duration.
            self._periodic_last_run[spec.name] = clock()
            if not self._holds(spec):
                continue
            error = self._run_one(spec, context)
            first_error = first_error or error
        if first_error is not None and raise_on_error:
            raise first_error
        return self._idle_for(clock())

    def _holds(self, spec: TaskSpec) -> bool:
        if not spec.singleton or self._periodic_hold is None:
            return True
        if self._periodic_hold(spec.job):
            return True
        LOG.debug("skipping periodic task %s.%s: job %s runs elsewhere (or "
                  "coordination is down)", type(self).__name__, spec.name,
                  spec.job)
        return False

    def _run_one(self, spec: TaskSpec, context: Any) -> BaseException | None:
        LOG.debug("running periodic task %s.%s", type(self).__name__,
                  spec.name)
        try:
            getattr(self, spec.name)(context)
        except _FATAL:
            raise
        except BaseException as exc:  # noqa: B036 - see the module docstring
            LOG.exception("periodic task %s.%s failed", type(self).__name__,
                          spec.name)
            return exc
        return None

    def _seconds_until_due(self, spec: TaskSpec, now: float) -> float:
        last = self._periodic_last_run.get(spec.name)
        if last is None:
            if spec.run_immediately:
                return 0.0
            last = self._periodic_started_at
        return last + spec.spacing - now

    def _idle_for(self, now: float) -> float:
        # Tasks without a spacing run at every tick; the service decides
        # how long a tick is, so they do not shorten the wait.
        waits = [self._seconds_until_due(spec, now)
                 for spec in self._periodic_active if spec.spacing > 0]
        return max(0.0, min(waits)) if waits else float("inf")

    def _ensure_periodic_state(self) -> None:
        # Subclasses that forget init_periodic_tasks still get a schedule.
        if not hasattr(self, "_periodic_active"):
            self.init_periodic_tasks()
