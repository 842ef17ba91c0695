"""``python -m bench``: run the benchmarks, print the table, write the JSON.

    python -m bench [--quick] [--only 1,2,5] [--client auto|wrk|python]
                    [--profile] [--keep]

Needs the venv capstan is installed in (its console scripts are started
from next to this interpreter), RabbitMQ with ``rabbitmqctl`` and
PostgreSQL (see bench/backends.py for the URLs), and wrk for the HTTP load
(else ``--client python``). Results go to bench/results/<timestamp>.json.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from importlib import metadata

from bench import backends, flow_bench, http_benches, loadgen, procs
from bench import open_loop_bench, report_scale, resources
from bench.procs import BenchError
from bench.session import Row, Session, Settings, ratio

RESULTS = procs.REPO_ROOT / "bench" / "results"
ALL = ("1", "2", "3", "4", "5", "6", "7", "8", "9")
PACKAGES = ("eventlet", "greenlet", "oslo.messaging", "kombu", "amqp",
            "SQLAlchemy", "psycopg", "WebOb", "Routes", "PasteDeploy",
            "oslo.middleware", "oslo.log")
SCHED_HOSTS = (100, 1000, 10000)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds per benchmark")
    parser.add_argument("--only", default=",".join(ALL),
                        help="comma-separated benchmark numbers")
    parser.add_argument("--client", choices=["auto", "wrk", "python"],
                        default="auto", help="HTTP load generator")
    parser.add_argument("--profile", action="store_true",
                        help="sample the servers with py-spy during an "
                             "extra measurement and report hot functions")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (configs, logs)")
    parser.add_argument("--tree", type=pathlib.Path,
                        help="run the servers from this capstan checkout "
                             "(e.g. a copy with a proposed patch applied) "
                             "instead of this one")
    return parser.parse_args(argv)


# -- machine and versions -----------------------------------------------------

def _cpu_model() -> str:
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_mb() -> int:
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def _tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0]


def _safe(call) -> str:
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        return f"unavailable ({str(exc).splitlines()[0][:80]})"


def machine() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return {
        "nproc": os.cpu_count(), "cpu": _cpu_model(),
        "ram_mb": _mem_total_mb(), "kernel": platform.release(),
        "python": platform.python_version(), "packages": versions,
        "wrk": _tool_version(["wrk", "--version"]) if shutil.which("wrk")
        else "missing",
        "rabbitmq": _safe(backends.rabbit_version),
        "postgresql": _safe(backends.pg_version),
        "loadavg_start": os.getloadavg(),
    }


# -- benchmark 4 (in process, in a child) -------------------------------------

def run_scheduler(session: Session) -> None:
    """Benchmark 4. The placement figure is the CPU time of one
    select_host(), the filters and weighers of one placement, averaged
    over all placements; it does not count the time the process waited
    for a core. Wall-clock median and p99 are in the note. The services
    re-read, once per services TTL (1 s), counts in the placement that
    triggers it; its own cost is reported on a row of its own."""
    out = procs.run([procs.PYTHON, "-m", "bench.sched_bench", "--hosts",
                     ",".join(str(n) for n in SCHED_HOSTS), "--seconds",
                     str(session.settings.sched_seconds)], timeout=600)
    results = {r["hosts"]: r for r in json.loads(out)}
    session.figures["4_scheduler"] = results
    first = SCHED_HOSTS[0]
    base = results[first]["cpu_ms"]
    for hosts in SCHED_HOSTS:
        fig = results[hosts]
        growth = ratio(fig["cpu_ms"], base)
        linear = hosts / first
        met = growth <= linear if hosts > first else None
        target = f"<= {linear:.0f}x (linear)" if hosts > first else "baseline"
        if hosts == SCHED_HOSTS[-1]:
            target += ", <= 10 ms"
            met = met and fig["cpu_ms"] <= 10.0
        session.add(Row(
            "4", f"placement at {hosts:,} hosts (CPU)", fig["cpu_ms"],
            "ms", base, growth, target, met,
            note=f"wall p50 {fig['p50_ms']:.3f}, p99 {fig['p99_ms']:.2f} ms; "
                 f"{fig['placements']} placements"))
    session.add(Row(
        "4", "  services re-read (once per second), 100 / 1,000 / 10,000",
        results[SCHED_HOSTS[-1]]["services_refresh_ms"], "ms",
        note=" / ".join(f"{results[n]['services_refresh_ms']:.1f}"
                        for n in SCHED_HOSTS) + " ms"))


# -- the run ------------------------------------------------------------------

def _attempt(session: Session, label: str, call, *args) -> None:
    print(f"bench: {label} ...", flush=True)
    started = time.monotonic()
    try:
        call(session, *args)
    except Exception as exc:  # noqa: BLE001 - one failure must not end the run
        detail = str(exc).strip().splitlines()[0] if str(exc) else repr(exc)
        session.add(Row(label.split()[0], f"{label}: FAILED", None, "",
                        note=detail[:160]))
        session.figures.setdefault("errors", {})[label] = (
            traceback.format_exc())
        print(f"bench: {label} failed: {detail}", flush=True)
    print(f"bench: {label} took {time.monotonic() - started:.0f} s",
          flush=True)


def _side_by_side(session: Session, *attempts: tuple) -> None:
    """Run attempts at once, in threads (only memory figures: they do not
    depend on how fast the machine is), then keep their rows in order."""
    forks = [session.fork() for _ in attempts]
    threads = [threading.Thread(target=_attempt, args=(fork, *attempt))
               for fork, attempt in zip(forks, attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for fork in forks:
        session.merge(fork)


def _available(what: str, probe, errors: dict) -> bool:
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - reported, then skipped
        errors[what] = str(exc).strip().splitlines()[0]
        print(f"bench: no {what} ({errors[what]}); its benchmarks are "
              "skipped", flush=True)
        return False
    return True


def run_all(session: Session, only: set[str], errors: dict) -> None:
    """Each deployment gets its own database and vhost (bench.deploy)."""
    pg = "postgresql" if _available("PostgreSQL", backends.pg_version,
                                    errors) else None
    rabbit = "rabbit" if _available("RabbitMQ", backends.rabbit_version,
                                    errors) else None
    transport = rabbit or "fake://"
    if "7" in only and pg:
        _attempt(session, "7 start-up", resources.run_startup, pg, transport)
    if "4" in only:
        _attempt(session, "4 scheduler placement", run_scheduler)
    if only & {"1", "2"}:
        _attempt(session, "1+2 HTTP throughput", http_benches.run_http,
                 "sqlite", pg, transport)
    if "5" in only:
        backends_5 = {"SQLite": "sqlite"}
        if pg:
            backends_5["PostgreSQL"] = pg
        _attempt(session, "5 services list", http_benches.run_services,
                 backends_5, transport)
    if "6" in only:
        attempts = [("6 api-server memory", resources.run_api_memory,
                     pg or "sqlite", transport)]
        if pg and rabbit:
            attempts.append(("6 worker memory", resources.run_worker_memory,
                             pg, rabbit))
        _side_by_side(session, *attempts)
    if "3" in only and pg and rabbit:
        _attempt(session, "3 create flow", flow_bench.run_flow, pg, rabbit)
    if "9" in only and pg and rabbit:
        _attempt(session, "9 open-loop create flow",
                 open_loop_bench.run_open_loop, pg, rabbit)
    if "8" in only and pg and rabbit:
        _attempt(session, "8 report scale", report_scale.run_report_scale,
                 pg, rabbit)


# -- output -------------------------------------------------------------------

def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    header = ("#", "what", "value", "baseline", "ratio", "target", "met",
              "notes")
    lines = [header]
    for row in rows:
        met = {True: "yes", False: "NO", None: ""}[row.met]
        lines.append((row.bench, row.what, _fmt(row.value, row.unit),
                      _fmt(row.baseline, row.unit if row.unit != "%" else ""),
                      "" if row.ratio is None else f"{row.ratio:.2f}x",
                      row.target, met, row.note))
    widths = [max(len(str(line[i])) for line in lines)
              for i in range(len(header) - 1)]
    out = []
    for index, line in enumerate(lines):
        cells = [str(c).ljust(w) for c, w in zip(line, widths)]
        out.append(" | ".join(cells + [line[-1]]).rstrip())
        if index == 0:
            out.append("-+-".join("-" * w for w in widths) + "-+------")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    if not only <= set(ALL):
        print(f"bench: unknown benchmark(s) {sorted(only - set(ALL))}",
              file=sys.stderr)
        return 2
    if args.tree is not None:
        if not (args.tree / "api" / "cmd.py").is_file():
            print(f"bench: {args.tree} is not a capstan checkout",
                  file=sys.stderr)
            return 2
        procs.TREE = args.tree.resolve()
    try:
        procs.binary("api-server")
        client = loadgen.pick_client(args.client)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    settings = Settings.quick() if args.quick else Settings()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=f"capstan-bench-{stamp}-"))
    session = Session(settings, workdir, client, args.profile)
    session.defaults = json.loads(procs.run(
        [procs.PYTHON, "-m", "bench.capstan_defaults"]))
    facts = machine()
    errors: dict = {}
    started = time.monotonic()
    print(f"bench: {settings.mode} run, load client {client}, work dir "
          f"{workdir}", flush=True)
    run_all(session, only, errors)
    elapsed = time.monotonic() - started
    facts["loadavg_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{stamp}.json"
    out.write_text(json.dumps({
        "timestamp": stamp, "mode": settings.mode, "client": client,
        "tree": str(procs.TREE),
        "elapsed_seconds": elapsed, "machine": facts,
        "settings": settings.__dict__, "capstan_defaults": session.defaults,
        "backend_errors": errors,
        "rows": [row.__dict__ for row in session.rows],
        "figures": session.figures, "profiles": session.profiles,
    }, indent=2, default=str), encoding="utf-8")
    print()
    print(table(session.rows))
    print(f"\nbench: {settings.mode} run took {elapsed:.0f} s on "
          f"{facts['nproc']} x {facts['cpu']}; load average "
          f"{facts['loadavg_start'][0]:.2f} -> {facts['loadavg_end'][0]:.2f}")
    print(f"bench: results in {out}")
    failed = "errors" in session.figures or errors
    if args.keep or failed:
        print(f"bench: logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0
