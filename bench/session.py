"""What every benchmark of one run shares: settings, work directory, the
load client, the backends, and the rows of the final table."""
from __future__ import annotations

import dataclasses
import pathlib
import statistics
from typing import Any, Callable

from bench import loadgen, profile


@dataclasses.dataclass(frozen=True)
class Settings:
    """Durations and sizes of a full run; :meth:`quick` scales them down."""

    mode: str = "full"
    measure_seconds: float = 5.0      # one HTTP measurement
    rounds: int = 3                   # baseline/target measurements, in turn
    warmup_seconds: float = 2.0
    connections: int = 10             # keep-alive connections per HTTP load
    flow_seconds: float = 30.0        # benchmark 3's sustained load
    raw_cast_seconds: float = 6.0     # benchmark 3's baseline (x2)
    latency_seconds: float = 3.0      # one-connection latency, bench 5
    sched_seconds: float = 3.0        # per host count, benchmark 4
    memory_requests: tuple = (10_000, 50_000)
    worker_batch: int = 500           # create+delete casts per batch
    startup_runs: int = 3
    report_idle_seconds: float = 20.0  # benchmark 8, reports only
    report_load_seconds: float = 30.0  # benchmark 8, placements

    @classmethod
    def quick(cls) -> "Settings":
        return cls(mode="quick", measure_seconds=2.0, rounds=1,
                   warmup_seconds=1.0, flow_seconds=6.0,
                   raw_cast_seconds=3.0, latency_seconds=2.0,
                   sched_seconds=1.0,
                   memory_requests=(2_000, 10_000), worker_batch=250,
                   startup_runs=1, report_idle_seconds=10.0,
                   report_load_seconds=10.0)


@dataclasses.dataclass
class Row:
    """One line of the table: a figure, its baseline, the target."""

    bench: str
    what: str
    value: float | None
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None  # None: no target, or not measured
    note: str = ""


class Session:
    def __init__(self, settings: Settings, workdir: pathlib.Path,
                 client: str, do_profile: bool) -> None:
        self.settings = settings
        self.workdir = workdir
        self.client = client
        self.do_profile = do_profile
        self.rows: list[Row] = []
        self.figures: dict[str, Any] = {}
        self.profiles: dict[str, Any] = {}
        # capstan's own defaults the baselines match (bench.capstan_defaults)
        self.defaults: dict[str, Any] = {}

    def fork(self) -> "Session":
        """A session for a benchmark run beside another (in a thread)."""
        fork = Session(self.settings, self.workdir, self.client,
                       self.do_profile)
        fork.defaults = self.defaults
        return fork

    def merge(self, other: "Session") -> None:
        self.rows += other.rows
        for key, value in other.figures.items():
            if isinstance(value, dict) and isinstance(
                    self.figures.get(key), dict):
                self.figures[key].update(value)
            else:
                self.figures[key] = value
        self.profiles.update(other.profiles)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def load(self, port: int, paths: list[str], headers: dict, *,
             seconds: float | None = None, connections: int | None = None,
             max_requests: int = 0) -> loadgen.LoadResult:
        return loadgen.run_load(
            self.client, port, paths, headers=headers,
            duration=seconds or self.settings.measure_seconds,
            connections=connections or self.settings.connections,
            max_requests=max_requests)

    def interleaved(self, targets: dict[str, Callable[[], Any]]
                    ) -> dict[str, list]:
        """Run each target once per round, in turn, so that a noisy moment
        on the shared machine hits the baseline and the target alike."""
        results: dict[str, list] = {name: [] for name in targets}
        for _ in range(self.settings.rounds):
            for name, measure in targets.items():
                results[name].append(measure())
        return results

    def profiled(self, name: str, pid: int, measure: Callable[[], Any]
                 ) -> None:
        """With --profile: sample ``pid`` with py-spy while ``measure``."""
        if self.do_profile:
            finish = self.sample({name: pid}, self.settings.measure_seconds)
            measure()
            finish()

    def sample(self, pids: dict[str, int], seconds: float
               ) -> Callable[[], None]:
        """Start py-spy on each pid; the returned callable waits for them
        and keeps their summaries."""
        samplers = {name: (profile.start(pid, seconds, self.workdir /
                                         f"profile-{name}.txt"),
                           self.workdir / f"profile-{name}.txt")
                    for name, pid in pids.items()}

        def finish() -> None:
            for name, (sampler, out) in samplers.items():
                sampler.wait(seconds + 60)
                if out.exists():
                    self.profiles[name] = dict(profile.summarize(out),
                                               file=str(out))
        return finish


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return value / baseline
