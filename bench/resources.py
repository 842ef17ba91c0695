"""Benchmarks 6 and 7: memory under load, and start-up time.

6. Resident memory (VmRSS) of a fresh api-server and a fresh volume worker
   idle, then after 10,000 and 50,000 requests (2,000 and 10,000 in quick
   mode). api-server (PostgreSQL and RabbitMQ when there, as deployed):
   wrk over GET /v1, /v1/volumes?limit=20 and /v1/services in turn;
   volume worker: create and delete casts
   (``bench.worker_load``). Baseline: the idle figure.
7. Launch to ready, as a supervisor sees it: ``api-server`` from exec to
   the first 200 on GET /; ``worker --topic volume`` from exec to its
   service record up (running, heartbeat after the launch). The median of
   the runs is reported, and the slowest.
"""
from __future__ import annotations

import json
import statistics
import time

from bench import procs
from bench.deploy import Deployment
from bench.session import Row, Session, ratio

API_PATHS = ["/v1", "/v1/volumes?limit=20", "/v1/services"]
SETTLE = 1.0
RSS_LIMIT_MB = 100.0
GROWTH_LIMIT = 0.05


def _memory_rows(session: Session, who: str, idle: float,
                 after: list[tuple[int, float]]) -> None:
    for count, rss in after:
        session.add(Row("6", f"{who} RSS after {count:,} requests", rss,
                        "MiB", idle, ratio(rss, idle), "<= 100 MiB",
                        rss <= RSS_LIMIT_MB))
    (first_n, first), (last_n, last) = after[0], after[-1]
    growth = (last - first) / first
    session.add(Row("6", f"{who} RSS growth {first_n:,} -> {last_n:,}",
                    100.0 * growth, "%", target="<= 5%",
                    met=growth <= GROWTH_LIMIT))


def run_api_memory(session: Session, db: str, transport: str) -> None:
    dep = Deployment(session.workdir, "memory-api", db_url=db,
                     transport_url=transport)
    try:
        dep.db_sync()
        headers = {"X-Auth-Token": dep.token("bench-admin", "admin",
                                             "admin")}
        dep.seed_volumes(1000, project="bench", host="seed-host")
        proc = dep.start_api()
        time.sleep(SETTLE)
        idle = proc.rss_mb()
        after, done = [], 0
        for target in session.settings.memory_requests:
            result = session.load(dep.port, API_PATHS, headers,
                                  seconds=600, max_requests=target - done)
            if result.errors:
                raise procs.BenchError(f"{result.errors} failed requests")
            done += result.requests
            time.sleep(SETTLE)
            after.append((done, proc.rss_mb()))
    finally:
        dep.close()
    session.figures["6_memory_api"] = {"idle_mb": idle, "after": after,
                                       "paths": API_PATHS, "database": db}
    session.add(Row("6", "api-server RSS idle", idle, "MiB"))
    _memory_rows(session, "api-server", idle, after)


def run_worker_memory(session: Session, db: str, transport: str) -> None:
    dep = Deployment(session.workdir, "memory-worker", db_url=db,
                     transport_url=transport)
    try:
        dep.db_sync()
        proc = dep.start_worker("volume")
        time.sleep(SETTLE)
        idle = proc.rss_mb()
        after, done, rates = [], 0, []
        for target in session.settings.memory_requests:
            out = json.loads(procs.run([
                procs.PYTHON, "-m", "bench.worker_load", "--transport-url",
                dep.transport_url, "--db-url", dep.db_url, "--host", dep.host,
                "--requests", str(target - done), "--batch",
                str(session.settings.worker_batch)], timeout=900))
            done += out["requests"]
            rates.append(out["rate"])
            time.sleep(SETTLE)
            after.append((done, proc.rss_mb()))
    finally:
        dep.close()
    session.figures["6_memory_worker"] = {"idle_mb": idle, "after": after,
                                          "casts_per_second": rates}
    session.add(Row("6", "volume worker RSS idle", idle, "MiB",
                    note=f"load: {statistics.mean(rates):.0f} casts/s"))
    _memory_rows(session, "volume worker", idle, after)


def run_startup(session: Session, db: str, transport: str) -> None:
    dep = Deployment(session.workdir, "startup", db_url=db,
                     transport_url=transport)
    api_times, worker_times = [], []
    try:
        dep.db_sync()
        for run in range(session.settings.startup_runs):
            started = time.monotonic()
            proc = dep.start_api(f"api-server-{run}")
            api_times.append(time.monotonic() - started)
            proc.stop()
            started = time.monotonic()
            proc = dep.start_worker("volume", host=f"{dep.host}-{run}")
            worker_times.append(time.monotonic() - started)
            proc.stop()
    finally:
        dep.close()
    session.figures["7_startup"] = {"api_seconds": api_times,
                                    "worker_seconds": worker_times}
    for who, times in (("api-server launch -> first 200", api_times),
                       ("worker launch -> service record up",
                        worker_times)):
        value = statistics.median(times)
        session.add(Row("7", who, value, "s", target="<= 2 s",
                        met=value <= 2.0,
                        note=f"slowest {max(times):.2f} s of {len(times)}"))
