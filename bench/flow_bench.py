"""Benchmark 3: REST create to ``available`` through every hop, sustained.

api-server, ``worker --topic scheduler`` and one ``worker --topic volume``
(fake driver) run as processes on RabbitMQ and PostgreSQL; the load is
``bench.create_load`` (closed loop, bounded backlog). The baseline is raw
oslo.messaging on the same broker (``bench.rpc_baseline``): one-hop casts
from one process to an endpoint in another, measured before and after the
load (once in quick mode) and averaged.
"""
from __future__ import annotations

import json
import resource
import statistics

from bench import deploy, procs
from bench.deploy import Deployment
from bench.loadgen import percentile
from bench.procs import BenchError
from bench.session import Row, Session, ratio

PROJECT = "bench"
MAX_OUTSTANDING = 32
CONCURRENCY = 4


def raw_cast_rate(session: Session, transport_url: str, tag: str) -> dict:
    """Rate and CPU cost (sender + receiver) of raw one-hop casts."""
    out = session.workdir / f"raw-cast-{tag}.json"
    with procs.ProcGroup(session.workdir) as group:
        quorum = (["--quorum"] if session.defaults.get("rabbit_quorum_queue")
                  else [])
        server = group.start(f"raw-cast-server-{tag}", [
            procs.PYTHON, "-m", "bench.rpc_baseline", "server", "--url",
            transport_url, "--out", str(out), *quorum])
        procs.wait_until(lambda: "consuming" in server.log_text(),
                         what="the raw RPC server", proc=server)
        server_cpu = server.cpu_seconds()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        procs.run([procs.PYTHON, "-m", "bench.rpc_baseline", "client",
                   "--url", transport_url, "--duration",
                   str(session.settings.raw_cast_seconds), *quorum],
                  timeout=session.settings.raw_cast_seconds + 120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        procs.wait_until(out.exists, what="the raw RPC result", proc=server,
                         timeout=90)
        server_cpu = server.cpu_seconds() - server_cpu
    result = json.loads(out.read_text())
    client_cpu = (after.ru_utime + after.ru_stime
                  - children.ru_utime - children.ru_stime)
    result["quorum_queues"] = bool(quorum)
    result["cpu_ms_per_message"] = round(
        1000.0 * (server_cpu + client_cpu) / max(1, result["received"]), 3)
    return result


def _wait_for_pools(dep: Deployment, admin: dict, host: str) -> None:
    def listed() -> bool:
        status, _, body = deploy.http_get(dep.port,
                                          "/v1/scheduler-stats/pools", admin)
        return status == 200 and any(
            pool["host"] == host for pool in json.loads(body)["pools"])

    procs.wait_until(listed, what="the scheduler to know the volume host",
                     timeout=60, interval=0.2)


def _start_chain(dep: Deployment) -> tuple:
    dep.db_sync()
    token = dep.token("bench-user", PROJECT, "member")
    admin = {"X-Auth-Token": dep.token("bench-admin", "admin", "admin")}
    volume = dep.start_worker("volume")
    scheduler = dep.start_worker("scheduler")
    api = dep.start_api()
    _wait_for_pools(dep, admin, dep.host)
    return token, {"api": api, "scheduler": scheduler, "volume": volume}


def _create_load(session: Session, dep: Deployment, token: str,
                 seconds: float, tag: str) -> dict:
    out = session.workdir / f"create-load-{tag}.json"
    procs.run([procs.PYTHON, "-m", "bench.create_load", "--port",
               str(dep.port), "--token", token, "--db-url", dep.db_url,
               "--duration", str(seconds), "--warmup",
               str(session.settings.warmup_seconds),
               "--concurrency", str(CONCURRENCY),
               "--max-outstanding", str(MAX_OUTSTANDING), "--out", str(out)],
              timeout=seconds + 180)
    result = json.loads(out.read_text())
    if result["post_errors"]:
        raise BenchError(f"{result['post_errors']} POST /v1/volumes failed: "
                         f"{result['first_errors']}")
    return result


def run_flow(session: Session, db: str, transport: str) -> None:
    s = session.settings
    with Deployment(session.workdir, "flow", db_url=db,
                    transport_url=transport) as dep:
        raw = [raw_cast_rate(session, dep.transport_url, "before")]
        token, servers = _start_chain(dep)
        # Fills the caches and connection pools of every hop first.
        _create_load(session, dep, token, s.warmup_seconds + 1, "warmup")
        finish = session.sample(
            {f"flow-{name}": proc.pid for name, proc in servers.items()},
            s.flow_seconds) if session.do_profile else None
        cpu_before = {name: proc.cpu_seconds()
                      for name, proc in servers.items()}
        machine_before = procs.machine_cpu()
        result = _create_load(session, dep, token, s.flow_seconds, "run")
        result["machine_busy"] = round(procs.busy_share(
            machine_before, procs.machine_cpu()), 3)
        if finish is not None:
            finish()
        posted = max(1, result["posted"])
        result["cpu_ms_per_volume"] = {
            name: round(1000.0 * (proc.cpu_seconds() - cpu_before[name])
                        / posted, 2) for name, proc in servers.items()}
        rss = {name: round(proc.rss_mb(), 1)
               for name, proc in servers.items()}
        dep.procs.stop_all()
        if s.rounds > 1:
            raw.append(raw_cast_rate(session, dep.transport_url, "after"))
    _report(session, result, raw, rss)


def _report(session: Session, result: dict, raw: list, rss: dict) -> None:
    latencies = result.pop("latencies_ms")
    base = statistics.mean(r["rate"] for r in raw)
    rate = result["volumes_per_second"]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    session.figures["3_flow"] = dict(
        result, raw_cast=raw, raw_cast_rate=base, p50_ms=p50, p99_ms=p99,
        rss_mb=rss, max_outstanding=MAX_OUTSTANDING,
        concurrency=CONCURRENCY, available=len(latencies))
    queues = "quorum" if raw[0]["quorum_queues"] else "classic"
    session.add(Row("3", f"baseline: raw oslo.messaging one-hop casts/s, "
                         f"{queues} queues",
                    base, "msg/s",
                    note=" / ".join(f"{r['rate']:.0f}" for r in raw)
                    + f"; {raw[0]['cpu_ms_per_message']:.2f} ms CPU/msg"))
    session.add(Row("3", "REST create -> available, fake driver, RabbitMQ",
                    rate, "vol/s", base, ratio(rate, base), ">= 0.30x",
                    ratio(rate, base) >= 0.3,
                    note=f"{result['available_in_window']} in "
                         f"{result['window_seconds']:.0f} s; POST "
                         f"{result['post_rate']:.0f}/s"))
    session.add(Row("3", "  create-to-available latency p50", p50, "ms"))
    cpu = result["cpu_ms_per_volume"]
    session.add(Row("3", "  CPU per volume, api+scheduler+volume",
                    sum(cpu.values()), "ms",
                    note=", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
                    + f"; machine {100 * result['machine_busy']:.0f}% busy"))
    session.add(Row("3", "  create-to-available latency p99", p99, "ms",
                    note=f"backlog <= {MAX_OUTSTANDING} creating"))
    session.add(Row("3", "  RSS after the run, api / scheduler / volume",
                    max(rss.values()), "MiB",
                    note=" / ".join(f"{v:.0f}" for v in rss.values())))
