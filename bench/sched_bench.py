"""Benchmark 4: placements by the scheduler's HostManager, in process.

    python -m bench.sched_bench --hosts 100,1000,10000 --seconds 3

For each host count: a SQLite database with that many live ``volume``
service records (one in twenty disabled), a HostManager built from the
default ``[scheduler]`` options (every filter, the CapacityWeigher), one
capability report per host (two zones, thin and thick hosts, free
capacity spread out), and a volume list per host. Then ``select_host``
runs back to back for the given time: every request consumes capacity on
the host it gets, half ask for a zone, one in ten carries a
``different_host`` hint. The services table is re-read once per
``services_ttl`` (1 s) as in the service, so its cost is in the average.

Prints JSON: per host count, the mean, p50 and p99 time of a placement,
the time of one services re-read, and how many placements ran.
"""
from capstan.common import monkey

monkey.patch()

import argparse  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from capstan.common import config  # noqa: E402
from capstan.common.context import get_admin_context  # noqa: E402
from capstan.common.db import migration, models  # noqa: E402
from capstan.common.db.api import Database  # noqa: E402
from capstan_volumes.scheduler.host_manager import VolumeHostManager as HostManager  # noqa: E402
from capstan.worker.scheduler.host_state import RequestSpec  # noqa: E402


def build(db: Database, hosts: int, rng: random.Random) -> HostManager:
    now = db.now()
    rows = [{"host": f"host-{i:05d}", "binary": "worker", "topic": "volume",
             "state": "running", "report_count": 1, "disabled": i % 20 == 0,
             "forced_down": False, "last_seen_up": now, "created_at": now}
            for i in range(hosts)]
    with db.engine.begin() as connection:
        connection.execute(sa.insert(models.Service.__table__), rows)
    conf = config.make_conf()
    conf([], project="capstan-bench")
    manager = HostManager.from_conf(conf, db)
    stamp = time.time()
    for i in range(hosts):
        total = rng.choice([1, 2, 4]) * 1_000_000  # never full in a run
        thin = i % 2 == 0
        manager.update_service_capabilities(f"host-{i:05d}", {
            "total_capacity_gb": total,
            "free_capacity_gb": rng.uniform(0.2, 1.0) * total,
            "allocated_capacity_gb": rng.uniform(0, 0.5) * total,
            "thin_provisioning": thin, "max_over_subscription_ratio": 20.0,
            "availability_zone": "zone1" if i % 2 else "zone2"}, stamp)
        manager.sync_resource_info(f"host-{i:05d}",
                                   [f"vol-{i}-{k}" for k in range(3)], stamp)
    return manager


def spec(rng: random.Random, hosts: int) -> RequestSpec:
    hints = {}
    if rng.random() < 0.1:
        hints = {"different_host": [f"vol-{rng.randrange(hosts)}-0"]}
    return RequestSpec(size=rng.randint(1, 10), resource_id=str(uuid.uuid4()),
                       availability_zone=rng.choice([None, "zone1"]),
                       scheduler_hints=hints)


def measure(hosts: int, seconds: float, workdir: pathlib.Path) -> dict:
    rng = random.Random(hosts)
    db = Database(f"sqlite:///{workdir}/sched-{hosts}.sqlite")
    migration.upgrade(db)
    manager = build(db, hosts, rng)
    context = get_admin_context()
    refresh_started = time.perf_counter()
    manager._services_read_at = None  # noqa: SLF001 - force one re-read
    manager.get_all_host_states(context)
    refresh_ms = (time.perf_counter() - refresh_started) * 1000.0
    times = []
    cpu = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        request = spec(rng, hosts)
        cpu_started = time.process_time()
        started = time.perf_counter()
        manager.select_host(context, request)
        times.append((time.perf_counter() - started) * 1000.0)
        cpu += time.process_time() - cpu_started
    db.dispose()
    times.sort()
    return {"hosts": hosts, "placements": len(times),
            # CPU time: what a placement costs, whatever else the machine
            # runs meanwhile (wall-clock figures below include preemption).
            "cpu_ms": cpu * 1000.0 / len(times),
            "mean_ms": sum(times) / len(times),
            "p50_ms": times[len(times) // 2],
            "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
            "services_refresh_ms": refresh_ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", default="100,1000,10000")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="capstan-sched-") as workdir:
        results = [measure(int(n), args.seconds, pathlib.Path(workdir))
                   for n in args.hosts.split(",")]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
