"""Benchmark 9: the create flow under open-loop load, up to and past its
capacity.

The deployment of benchmark 3 (api-server, ``worker --topic scheduler``,
one ``worker --topic volume`` with the fake driver, RabbitMQ and
PostgreSQL, default settings) and its baseline (raw one-hop casts on the
same broker). The load is ``bench.open_loop``: creates due on a fixed
schedule, latencies from when each was due.

1. Capacity: steps of ``step_seconds`` (20 s; 5 in quick mode) at
   rising rates (x1.25 from ``FIRST_RATE``); a rate is kept while its
   backlog stays flat (no create shed, at most one second of creates in
   ``creating`` through the step's second half and at its end, every
   accepted volume available); the capacity is the highest rate kept.
2. The curve: ``load_seconds`` at 50%, 80%, 100% and 150% of it, each
   after the backlog drained; CPU of each process per volume.
3. 150% again, through a second api-server whose shedding bounds the
   wait instead of the count (``[api] max_create_wait`` = ``TIGHT_WAIT``,
   refreshed every ``TIGHT_REFRESH`` s): the latency an operator buys with
   that option, against the default count bound of step 2.

The figures go to ``session.figures["9_open_loop"]`` (the JSON of the
run); ``python -m bench.plot_open_loop RESULT.json docs/open_loop.png``
draws the curves.
"""
from __future__ import annotations

import json

from bench import procs
from bench.deploy import Deployment
from bench.flow_bench import _start_chain, raw_cast_rate
from bench.procs import BenchError
from bench.session import Row, Session, ratio

FIRST_RATE = 40.0
GROWTH = 1.25
MAX_STEPS = 12
SHARES = (0.5, 0.8, 1.0, 1.5)
TIGHT_WAIT = 0.1
TIGHT_REFRESH = 0.1


def _load(session: Session, dep: Deployment, token: str, rate: float,
          seconds: float, tag: str, port: int | None = None) -> dict:
    out = session.workdir / f"open-loop-{tag}.json"
    procs.run([procs.PYTHON, "-m", "bench.open_loop", "--port",
               str(port or dep.port), "--token", token, "--db-url", dep.db_url,
               "--rate", f"{rate:.2f}", "--duration", str(seconds),
               "--out", str(out)], timeout=seconds + 300)
    result = json.loads(out.read_text())
    if result["errors"]:
        raise BenchError(f"{result['errors']} creates failed at {rate:.0f}/s:"
                         f" {result['first_errors']}")
    return result


def _flat(result: dict) -> bool:
    """Nothing shed, every accepted volume made, and never more than one
    second of creates waiting in the step's second half (a backlog that
    only grows slowly still ends above that in a longer run)."""
    half = result["seconds"] / 2
    late = [count for at, count in result["backlog"]
            if half <= at <= result["seconds"]]
    return (result["rejected"] == 0
            and max(late, default=0) <= result["rate"]
            and result["backlog_at_end"] <= result["rate"]
            and result["statuses"].get("available", 0) == result["accepted"])


def _capacity(session: Session, dep: Deployment, token: str,
              seconds: float) -> tuple[float, list[dict]]:
    steps, rate, kept = [], FIRST_RATE, None
    for _ in range(MAX_STEPS):
        result = _load(session, dep, token, rate, seconds, f"step-{rate:.0f}")
        steps.append(result)
        if not _flat(result):
            break
        kept, rate = rate, rate * GROWTH
    if kept is None:
        raise BenchError(f"the backlog grew at {FIRST_RATE:.0f}/s already")
    return kept, steps


def run_open_loop(session: Session, db: str, transport: str) -> None:
    quick = session.settings.mode == "quick"
    step_seconds, load_seconds = (5.0, 10.0) if quick else (20.0, 60.0)
    with Deployment(session.workdir, "open-loop", db_url=db,
                    transport_url=transport) as dep:
        raw = raw_cast_rate(session, dep.transport_url, "open-loop")
        token, servers = _start_chain(dep)
        _load(session, dep, token, 20.0, 3.0, "warmup")
        capacity, steps = _capacity(session, dep, token, step_seconds)
        runs = [_measured(session, dep, token, servers, capacity * share,
                          load_seconds, f"share-{share}", share=share)
                for share in SHARES]
        port = procs.free_port()
        servers["api"] = dep.start_api(
            "api-server-wait", port=port, max_create_wait=TIGHT_WAIT,
            admission_refresh_interval=TIGHT_REFRESH)
        tight = _measured(session, dep, token, servers, capacity * 1.5,
                          load_seconds, "wait-bound", share=1.5, port=port)
    session.figures["9_open_loop"] = {
        "capacity": capacity, "raw_cast": raw, "steps": steps,
        "runs": runs, "wait_bound": tight, "step_seconds": step_seconds,
        "load_seconds": load_seconds}
    _report(session, capacity, raw, runs, tight)


def _measured(session: Session, dep: Deployment, token: str, servers: dict,
              rate: float, seconds: float, tag: str, *, share: float,
              port: int | None = None) -> dict:
    """One load run, with each process's CPU per accepted volume."""
    before = {name: proc.cpu_seconds() for name, proc in servers.items()}
    result = _load(session, dep, token, rate, seconds, tag, port)
    accepted = max(1, result["accepted"])
    result["share"] = share
    result["cpu_ms_per_volume"] = {
        name: round(1000.0 * (proc.cpu_seconds() - before[name]) / accepted,
                    2)
        for name, proc in servers.items()}
    return result


def _report(session: Session, capacity: float, raw: dict,
            runs: list[dict], tight: dict) -> None:
    by_share = {run["share"]: run for run in runs}
    base = raw["rate"]
    session.add(Row("9", "open-loop capacity of create -> available "
                         "(backlog flat)", capacity, "vol/s", base,
                    ratio(capacity, base), ">= 0.50x",
                    ratio(capacity, base) >= 0.5,
                    note=f"raw casts {base:.0f}/s, "
                         f"{raw['cpu_ms_per_message']:.2f} ms CPU/msg"))
    full = by_share[1.0]
    cpu = sum(full["cpu_ms_per_volume"].values())
    session.add(Row("9", "  CPU per volume at 100%, all processes", cpu,
                    "ms", raw["cpu_ms_per_message"],
                    ratio(cpu, raw["cpu_ms_per_message"]), "<= 3.5x",
                    ratio(cpu, raw["cpu_ms_per_message"]) <= 3.5,
                    note=", ".join(f"{k} {v:.2f}" for k, v in
                                   full["cpu_ms_per_volume"].items())))
    for run in runs:
        share, done = run["share"], run["available_ms"]
        session.add(Row(
            "9", f"  at {100 * share:.0f}% ({run['rate']:.0f}/s): "
                 "create -> available p50", done.get("p50"), "ms",
            note=f"p99 {done.get('p99')} / p99.9 {done.get('p99.9')} ms; "
                 f"accepted {run['accepted_per_s']:.0f}/s, shed "
                 f"{run['rejected_per_s']:.0f}/s, available "
                 f"{run['available_per_s']:.0f}/s; backlog at end "
                 f"{run['backlog_at_end']}; accept p99 "
                 f"{run['accept_ms'].get('p99')} ms"))
    at80 = by_share[0.8]["available_ms"]
    spread = ratio(at80.get("p99"), at80.get("p50"))
    session.add(Row("9", "  at 80%: p99 / p50 of create -> available",
                    spread, "x", target="<= 4",
                    met=spread is not None and spread <= 4,
                    note=f"backlog at the end "
                         f"{by_share[0.8]['backlog_at_end']}"))
    over, half = by_share[1.5], by_share[0.5]
    kept = ratio(over["available_per_s"], capacity)
    session.add(Row("9", "  at 150%: available/s vs capacity",
                    over["available_per_s"], "vol/s", capacity, kept,
                    ">= 0.9x", kept is not None and kept >= 0.9))
    session.add(_tail_row("  at 150%: p99 of accepted vs p50 at 50%",
                          over, half))
    shed = over["shed_ms"]
    session.add(Row("9", "  at 150%: time to a 503 (p50 / p99)",
                    shed.get("p50"), "ms", target="< 20 ms",
                    met=shed.get("p50") is not None and shed["p50"] < 20,
                    note=f"p99 {shed.get('p99')} ms; {over['rejected']} "
                         f"shed of {over['sent']}" if shed else
                         "nothing shed: the backlog stayed under "
                         "[api] max_creating"))
    session.add(_tail_row(
        f"  at 150%, max_create_wait {TIGHT_WAIT:g} s: p99 of accepted vs "
        "p50 at 50%", tight, half,
        note=f"available {tight['available_per_s']:.0f}/s "
             f"({ratio(tight['available_per_s'], capacity)}x capacity), "
             f"shed {tight['rejected_per_s']:.0f}/s, 503 p50 "
             f"{tight['shed_ms'].get('p50')} ms"))


def _tail_row(label: str, run: dict, half: dict, note: str = "") -> Row:
    """The p99 of ``run`` against the p50 at 50% load (target <= 10x)."""
    p99, p50 = run["available_ms"].get("p99"), half["available_ms"].get("p50")
    tail = ratio(p99, p50)
    return Row("9", label, p99, "ms", p50, tail, "<= 10x",
               tail is not None and tail <= 10, note=note)
