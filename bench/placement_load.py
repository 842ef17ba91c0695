"""Benchmark 8's placements: open-loop creates cast to the scheduler.

    python -m bench.placement_load --config-file capstan.conf --hosts N \\
        --rate 20 --duration 30 --scheduler-pid P --out result.json

First asks the scheduler for its pools (``get_pools``, the call behind
``GET /v1/scheduler-stats/pools``) until it lists ``--hosts`` hosts
named ``sim-*``. Then, at a fixed rate whatever happens to the earlier
ones (open loop), does what the API does for a create of 1 GiB: insert
the row in ``creating`` without a host, cast ``create_volume`` to the
scheduler topic. A volume's placement latency is from when its create was
due (this clock) to its claim's ``created_at`` in ``resource_allocations``
(the scheduler's clock, written in the placement's transaction; the same
machine). Every 0.5 s the backlog, rows still ``creating`` without a host,
is sampled. The scheduler's CPU (``/proc/<pid>/stat``) and the machine's
are read at the start and the end of the load.
"""
from capstan.common import monkey

monkey.patch()

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pathlib  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import eventlet  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench import procs  # noqa: E402
from bench.create_load import utc_epoch  # noqa: E402
from capstan.common import config, rpc  # noqa: E402
from capstan.common.context import get_admin_context  # noqa: E402
from capstan_volumes import models as volume_models  # noqa: E402
from capstan_volumes.scheduler.rpcapi import SchedulerAPI  # noqa: E402

BACKLOG_EVERY = 0.5
DRAIN_TIMEOUT = 60.0
POOLS_TIMEOUT = 120.0
SPEC = {"size": 1, "availability_zone": None, "scheduler_hints": {}}


def cpu_seconds(pid: int) -> float:
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rpartition(
        ")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_pools(api: SchedulerAPI, hosts: int) -> tuple[int, float]:
    """Call get_pools until the scheduler knows ``hosts`` sim hosts;
    return the count and the last call's duration."""
    context = get_admin_context()
    deadline = time.monotonic() + POOLS_TIMEOUT
    while True:
        started = time.monotonic()
        pools = api.get_pools(context)
        took = time.monotonic() - started
        known = sum(1 for pool in pools if pool["host"].startswith("sim-"))
        if known >= hosts or time.monotonic() > deadline:
            return known, took
        eventlet.sleep(0.5)


class Load:
    def __init__(self, args: argparse.Namespace, engine: sa.Engine,
                 api: SchedulerAPI) -> None:
        self.args = args
        self.engine = engine
        self.api = api
        self.due: dict[str, float] = {}
        self.send_lag: list[float] = []
        self.backlog: list[tuple[float, int]] = []
        self.sending = True

    def count_unplaced(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(*) FROM volumes WHERE status = 'creating' "
                "AND host IS NULL AND deleted_at IS NULL")).scalar()

    def sample_backlog(self, started: float) -> None:
        while self.sending:
            self.backlog.append((round(time.time() - started, 2),
                                 self.count_unplaced()))
            eventlet.sleep(BACKLOG_EVERY)

    def send(self, started: float) -> None:
        table = volume_models.Volume.__table__
        context = get_admin_context()
        total = int(self.args.rate * self.args.duration)
        for index in range(total):
            due = started + index / self.args.rate
            eventlet.sleep(max(0.0, due - time.time()))
            volume_id = str(uuid.uuid4())
            now = datetime.datetime.now(datetime.timezone.utc).replace(
                tzinfo=None)
            with self.engine.begin() as connection:
                connection.execute(sa.insert(table), {
                    "id": volume_id, "name": "", "size": 1,
                    "status": "creating", "host": None,
                    "availability_zone": None, "project_id": "bench",
                    "user_id": "bench", "metadata": {},
                    "scheduler_hints": {}, "schedule_attempts": 0,
                    "created_at": now, "updated_at": now})
            self.api.create_volume(context, volume_id=volume_id,
                                   request_spec=SPEC)
            self.due[volume_id] = due
            self.send_lag.append(time.time() - due)

    def placed_at(self) -> dict[str, float]:
        query = sa.text(
            "SELECT consumer_id, created_at FROM resource_allocations "
            "WHERE consumer_id IN :ids").bindparams(
            sa.bindparam("ids", expanding=True))
        with self.engine.connect() as connection:
            rows = connection.execute(query, {"ids": list(self.due)}).all()
        return {row[0]: utc_epoch(row[1]) for row in rows}


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def run(args: argparse.Namespace) -> dict:
    conf = config.make_conf()
    config.load(conf, ["--config-file", args.config_file])
    engine = sa.create_engine(conf.database.connection, pool_size=3)
    api = SchedulerAPI(rpc.get_transport(conf), timeout=60)
    known, pools_seconds = wait_for_pools(api, args.hosts)
    if known < args.hosts:
        raise SystemExit(f"placement_load: the scheduler knows {known} of "
                         f"{args.hosts} hosts after {POOLS_TIMEOUT:.0f} s")
    load = Load(args, engine, api)
    cpu_before = cpu_seconds(args.scheduler_pid)
    machine_before = procs.machine_cpu()
    started = time.time() + 0.1
    sampler = eventlet.spawn(load.sample_backlog, started)
    load.send(started)
    window = time.time() - started
    cpu_after = cpu_seconds(args.scheduler_pid)
    busy = procs.busy_share(machine_before, procs.machine_cpu())
    # Backlog after the last send: what the scheduler still owed.
    load.sending = False
    sampler.wait()
    backlog_at_end = load.count_unplaced()
    deadline = time.monotonic() + DRAIN_TIMEOUT
    placed = load.placed_at()
    while len(placed) < len(load.due) and time.monotonic() < deadline:
        eventlet.sleep(0.2)
        placed = load.placed_at()
    latencies = [1000.0 * (placed[v] - due) for v, due in load.due.items()
                 if v in placed]
    return {
        "hosts": args.hosts, "pools_known": known,
        "get_pools_ms": round(1000.0 * pools_seconds, 1),
        "rate": args.rate, "sent": len(load.due), "placed": len(placed),
        "window_seconds": round(window, 2),
        "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies,
                                                                  99),
        "max_ms": max(latencies, default=0.0),
        "send_lag_max_ms": 1000.0 * max(load.send_lag, default=0.0),
        "scheduler_cpu_percent": round(
            100.0 * (cpu_after - cpu_before) / window, 1),
        "scheduler_cpu_ms_per_placement": round(
            1000.0 * (cpu_after - cpu_before) / max(1, len(load.due)), 2),
        "machine_busy_percent": round(100.0 * busy, 1),
        "backlog": load.backlog, "backlog_at_end": backlog_at_end,
        "latencies_ms": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--scheduler-pid", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = run(args)
    pathlib.Path(args.out).write_text(json.dumps(result), encoding="utf-8")
    print(f"placement_load: {result['placed']}/{result['sent']} placed, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")


if __name__ == "__main__":
    main()
