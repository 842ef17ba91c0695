"""Benchmarks 1, 2 and 5: requests/s and latency of the REST API.

1. GET /v1 through the whole v1 pipeline with token auth
   (request_id, faultwrap, sizelimit, tokenauth, context, Routes), one
   api-server process, against ``bench.baseline_app`` served the same way.
2. GET /v1/volumes?limit=20 over 1,000 rows of the caller's project, on
   SQLite and on PostgreSQL, against the same baseline.
5. GET /v1/services over 10,000 service records, one connection at a
   time (latency), against GET /v1 on the same server; a bench-only paste
   filter (bench.querycount) counts the SQL of each request.

The loads of 1 and 2 run in rounds, each target once per round, and the
medians are compared: a burst of load from elsewhere on the machine hits
baseline and target alike.
"""
from __future__ import annotations

import json

from bench import deploy, procs, querycount
from bench.deploy import Deployment
from bench.procs import BenchError
from bench.session import Row, Session, median, ratio

VOLUME_ROWS = 1_000
SERVICE_ROWS = 10_000
VOLUMES_PATH = "/v1/volumes?limit=20"
PROJECT = "bench"


def _start_baseline(session: Session, group: procs.ProcGroup) -> int:
    port = procs.free_port()
    pool = session.defaults.get("wsgi_default_pool_size", 100)
    proc = group.start("baseline-app", [procs.PYTHON, "-m",
                                        "bench.baseline_app", "--port",
                                        str(port), "--pool-size", str(pool)])
    procs.wait_until(lambda: deploy.http_status(port, "/") == 200,
                     what="the baseline app", proc=proc)
    return port


def _api(session: Session, name: str, db_url: str, transport_url: str,
         volumes: int = 0, services: int = 0, **kwargs) -> tuple:
    dep = Deployment(session.workdir, name, db_url=db_url,
                     transport_url=transport_url, **kwargs)
    try:
        dep.db_sync()
        token = dep.token("bench-user", PROJECT, "member")
        admin = dep.token("bench-admin", "admin", "admin")
        if volumes:
            dep.seed_volumes(volumes, project=PROJECT, host="seed-host")
        if services:
            dep.seed_services(services)
        proc = dep.start_api()
    except BaseException:
        dep.close()
        raise
    return dep, proc, {"X-Auth-Token": token}, {"X-Auth-Token": admin}


def _body_size(port: int, path: str, headers: dict) -> int:
    return len(deploy.require_ok(port, path, headers))


def run_http(session: Session, sqlite: str, pg: str | None,
             transport: str) -> None:
    """Benchmarks 1 and 2 (one set of servers, measured in rounds)."""
    s = session.settings
    deps = []
    with procs.ProcGroup(session.workdir) as group:
        try:
            base_port = _start_baseline(session, group)
            lite, lite_proc, lite_hdr, _ = _api(
                session, "http-sqlite", sqlite, transport,
                volumes=VOLUME_ROWS)
            deps.append(lite)
            # The same GET /v1 on a server with [api] access_log = false,
            # as behind a proxy that logs the requests itself.
            quiet, quiet_proc, quiet_hdr, _ = _api(
                session, "http-no-access-log", sqlite, transport,
                api_options={"access_log": False})
            deps.append(quiet)
            servers = {"baseline": (base_port, "/", {}, None),
                       "v1": (lite.port, "/v1", lite_hdr, lite_proc),
                       "v1-no-access-log": (quiet.port, "/v1", quiet_hdr,
                                            quiet_proc),
                       "volumes-sqlite": (lite.port, VOLUMES_PATH, lite_hdr,
                                          lite_proc)}
            if pg:
                pg_dep, pg_proc, pg_hdr, _ = _api(session, "http-pg", pg,
                                                  transport,
                                                  volumes=VOLUME_ROWS)
                deps.append(pg_dep)
                servers["volumes-pg"] = (pg_dep.port, VOLUMES_PATH, pg_hdr,
                                         pg_proc)
            _check_page(lite.port, lite_hdr)
            sizes = {name: _body_size(port, path, hdr)
                     for name, (port, path, hdr, _) in servers.items()}
            for port, path, hdr, _ in servers.values():
                session.load(port, [path], hdr, seconds=s.warmup_seconds)
            results = session.interleaved({
                name: (lambda p=port, q=path, h=hdr: session.load(p, [q], h))
                for name, (port, path, hdr, _) in servers.items()})
            for name, (port, path, hdr, proc) in servers.items():
                if proc is not None:
                    session.profiled(name, proc.pid, lambda p=port, q=path,
                                     h=hdr: session.load(p, [q], h))
        finally:
            for dep in deps:
                dep.close()
    _report_http(session, results, sizes)


def _check_page(port: int, headers: dict) -> None:
    page = json.loads(deploy.require_ok(port, VOLUMES_PATH, headers))
    if len(page["volumes"]) != 20 or "next" not in page:
        raise BenchError(f"GET {VOLUMES_PATH} returned "
                         f"{len(page['volumes'])} volumes, expected 20 and "
                         "a next link")


def _summary(runs: list) -> dict:
    errors = sum(r.errors for r in runs)
    if errors:
        raise BenchError(f"{errors} failed requests during the load")
    return {"rps": median([r.rps for r in runs]),
            "p50_ms": median([r.p50_ms for r in runs]),
            "p99_ms": median([r.p99_ms for r in runs]),
            "rps_runs": [round(r.rps, 1) for r in runs],
            "client": runs[0].client}


def _report_http(session: Session, results: dict, sizes: dict) -> None:
    summary = {name: _summary(runs) for name, runs in results.items()}
    for name in summary:
        summary[name]["body_bytes"] = sizes[name]
    session.figures["1_2_http"] = summary
    base = summary["baseline"]["rps"]
    session.add(Row("0", "baseline: eventlet.wsgi + WebOb hello, req/s",
                    base, "req/s", note=f"p99 "
                    f"{summary['baseline']['p99_ms']:.1f} ms"))
    v1 = summary["v1"]["rps"]
    session.add(Row("1", "GET /v1, token auth, full pipeline", v1, "req/s",
                    base, ratio(v1, base), ">= 0.70x",
                    ratio(v1, base) >= 0.7,
                    note=f"p99 {summary['v1']['p99_ms']:.1f} ms"))
    quiet = summary["v1-no-access-log"]["rps"]
    session.add(Row("1", "  GET /v1, [api] access_log = false", quiet,
                    "req/s", base, ratio(quiet, base), ">= 0.70x",
                    ratio(quiet, base) >= 0.7,
                    note=f"p99 {summary['v1-no-access-log']['p99_ms']:.1f} "
                         "ms; no oslo.log line per request"))
    lite = summary["volumes-sqlite"]
    session.add(Row("2", f"GET {VOLUMES_PATH}, 1,000 rows, SQLite",
                    lite["rps"], "req/s", base, ratio(lite["rps"], base),
                    ">= 0.40x", ratio(lite["rps"], base) >= 0.4,
                    note=f"p99 {lite['p99_ms']:.1f} ms"))
    session.add(Row("2", "  p99 latency, SQLite", lite["p99_ms"], "ms",
                    note=f"p50 {lite['p50_ms']:.1f} ms, "
                         f"{session.settings.connections} connections"))
    if "volumes-pg" in summary:
        pg = summary["volumes-pg"]
        session.add(Row("2", f"GET {VOLUMES_PATH}, 1,000 rows, PostgreSQL",
                        pg["rps"], "req/s", base, ratio(pg["rps"], base),
                        "report", None, note=f"p99 {pg['p99_ms']:.1f} ms"))
        session.add(Row("2", "  p99 latency, PostgreSQL", pg["p99_ms"], "ms",
                        note=f"p50 {pg['p50_ms']:.1f} ms"))


# -- benchmark 5 -------------------------------------------------------------

def run_services(session: Session, dbs: dict[str, str],
                 transport: str) -> None:
    """GET /v1/services over 10,000 records: latency and SQL per request."""
    paste = session.workdir / "api-paste-querycount.ini"
    paste.write_text(querycount.paste_file(
        deploy.source_paste().read_text(encoding="utf-8")), encoding="utf-8")
    figures = {}
    for backend, db in dbs.items():
        dep, proc, _, admin = _api(session, f"services-{backend}", db,
                                   transport, services=SERVICE_ROWS,
                                   paste=paste)
        try:
            figures[backend] = _measure_services(session, dep, proc, admin)
        finally:
            dep.close()
    session.figures["5_services"] = figures
    for backend, fig in figures.items():
        ok = fig["services_p99_ms"] <= 100 and fig["statements"] == 1
        session.add(Row(
            "5", f"GET /v1/services, 10,000 records, {backend}: p99",
            fig["services_p99_ms"], "ms", fig["v1_p99_ms"],
            ratio(fig["services_p99_ms"], fig["v1_p99_ms"]),
            "<= 100 ms, 1 query", ok,
            note=f"p50 {fig['services_p50_ms']:.1f} ms; "
                 f"{fig['statements']} statement(s), {fig['checkouts']} "
                 f"checkout(s)/request; {fig['body_bytes'] // 1024} KiB"))


def _measure_services(session: Session, dep: Deployment, proc,
                      admin: dict) -> dict:
    status, headers, body = deploy.http_get(dep.port, "/v1/services", admin)
    if status != 200:
        raise BenchError(f"GET /v1/services answered {status}")
    count = len(json.loads(body)["services"])
    if count < SERVICE_ROWS:
        raise BenchError(f"GET /v1/services listed {count} services")
    statements, checkouts = _query_counts(dep.port, admin)
    s = session.settings
    one = {"connections": 1, "seconds": s.latency_seconds}
    session.load(dep.port, ["/v1/services"], admin, connections=1,
                 seconds=s.warmup_seconds)
    runs = session.interleaved({
        "v1": lambda: session.load(dep.port, ["/v1"], admin, **one),
        "services": lambda: session.load(dep.port, ["/v1/services"], admin,
                                         **one)})
    session.profiled(f"services-{dep.name}", proc.pid, lambda: session.load(
        dep.port, ["/v1/services"], admin, **one))
    v1, services = _summary(runs["v1"]), _summary(runs["services"])
    return {"statements": statements, "checkouts": checkouts,
            "body_bytes": len(body), "listed": count,
            "v1_rps": v1["rps"], "v1_p50_ms": v1["p50_ms"],
            "v1_p99_ms": v1["p99_ms"], "services_rps": services["rps"],
            "services_p50_ms": services["p50_ms"],
            "services_p99_ms": services["p99_ms"]}


def _query_counts(port: int, headers: dict, samples: int = 5) -> tuple:
    """The most statements and checkouts any of ``samples`` requests made."""
    worst = (0, 0)
    for _ in range(samples):
        _, response_headers, _ = deploy.http_get(port, "/v1/services",
                                                 headers)
        value = response_headers.get(querycount.HEADER)
        if value is None:
            raise BenchError("no query count header: is the querycount "
                             "filter in the pipeline?")
        statements, checkouts = (int(n) for n in value.split())
        worst = max(worst, (statements, checkouts))
    return worst
