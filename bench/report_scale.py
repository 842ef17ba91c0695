"""Benchmark 8: the scheduler under 100, then 1,000 hosts reporting.

One real ``worker --topic scheduler`` (default options: capability
reports every 10 s, ``report_interval`` 10 s) on RabbitMQ and PostgreSQL,
a fresh database and vhost. The volume hosts are real worker Services
with the volume Manager and the fake driver, ``PER_PROCESS`` of them per
``bench.sim_hosts`` process. First ``HOSTS[0]`` hosts run; once the
scheduler lists every one of them in its pools:

* an idle window: nothing but the hosts' reports and heartbeats; the
  scheduler's CPU over it, per report;
* a placement window: ``bench.placement_load`` casts creates of 1 GiB at
  a fixed rate (open loop); each volume's latency runs from when its create
  was due to its claim in the database; the backlog of unplaced rows is
  sampled throughout.

Then more simulator processes start, up to ``HOSTS[1]`` hosts, in the
same deployment (the same scheduler process), and both windows run again.
p50 and p99 at 1,000 hosts are compared with the 100-host figures of the
same run; the marginal CPU per report is the growth of the scheduler's idle
CPU divided by the growth of the report rate.
"""
from __future__ import annotations

import json
import re
import signal
import time

from bench import backends, procs
from bench.deploy import Deployment
from bench.procs import BenchError, Proc
from bench.session import Row, Session, ratio

HOSTS = (100, 1000)
PER_PROCESS = 100
REPORT_SPACING = 10.0       # the volume Manager's capability report
SYNC_SPACING = 60.0         # its sync_volume_info
RATE = 20.0                 # placements per second, open loop
START_TIMEOUT = 120.0
# File handles a simulated host costs the broker (its connection, its
# queues' files), with room for the rest of the deployment: below
# FILES_PER_HOST x HOSTS[-1] the bench starts a broker of its own.
FILES_PER_HOST = 4       # one simulator process bringing its hosts up
STARTED = re.compile(r"sim_hosts: (\d+) started in ([\d.]+) s")


def broker_files(node: backends.RabbitNode | None = None) -> dict:
    """The RabbitMQ node's file descriptors and sockets, used and limit.

    Its file handle cache counts sockets and the queues' files against
    one limit (from the node's ``ulimit -n``); when it is reached the node
    stops accepting connections, and each Service opens one.
    """
    text = backends.rabbit_status(node)
    files = re.search(r"Total: (\d+), limit: (\d+)", text)
    sockets = re.search(r"Sockets: (\d+), limit: (\d+)", text)
    if files is None or sockets is None:
        raise BenchError("no file limits in rabbitmqctl status")
    return {"files_used": int(files.group(1)),
            "files_limit": int(files.group(2)),
            "sockets_used": int(sockets.group(1)),
            "sockets_limit": int(sockets.group(2))}


def _broker_note(node: backends.RabbitNode | None) -> str:
    # NOTE(capstan): at its file limit the node may not answer
    # rabbitmqctl either (its CLI connects over a socket too).
    try:
        files = broker_files(node)
    except BenchError as exc:
        return f"RabbitMQ status unavailable ({exc})"
    return (f"RabbitMQ files {files['files_used']}/{files['files_limit']}, "
            f"sockets {files['sockets_used']}/{files['sockets_limit']}")


class Simulators:
    """The ``bench.sim_hosts`` processes of one deployment."""

    def __init__(self, dep: Deployment,
                 node: backends.RabbitNode | None) -> None:
        self.dep = dep
        self.node = node
        self.procs: list[Proc] = []

    @property
    def hosts(self) -> int:
        return len(self.procs) * PER_PROCESS

    def grow(self, hosts: int) -> str | None:
        """Start processes, one at a time, up to ``hosts``; return why it
        stopped short (a process that did not start in time), or None."""
        while self.hosts < hosts:
            first = self.hosts
            proc = self.dep.procs.start(f"sim-hosts-{first:04d}", [
                procs.PYTHON, "-m", "bench.sim_hosts", "--config-file",
                str(self.dep.config_file), "--first", str(first),
                "--count", str(PER_PROCESS)])
            try:
                procs.wait_until(lambda: STARTED.search(proc.log_text()),
                                 what=f"{proc.name} to start its services",
                                 timeout=START_TIMEOUT, interval=0.5,
                                 proc=proc)
            except BenchError:
                started = proc.log_text().count("consuming volume.sim-")
                broker = _broker_note(self.node)
                proc.stop()
                return (f"{proc.name} brought {started} of {PER_PROCESS} "
                        f"services up in {START_TIMEOUT:.0f} s; {broker}")
            self.procs.append(proc)
        return None

    def cpu_seconds(self) -> float:
        return sum(proc.cpu_seconds() for proc in self.procs)

    def rss_mb(self) -> list[float]:
        return [round(proc.rss_mb(), 1) for proc in self.procs]

    def stop(self) -> None:
        """SIGTERM them all at once, then wait for each (or SIGKILL)."""
        for proc in self.procs:
            if proc.running():
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.stop()


def _wait_reported(dep: Deployment, hosts: int) -> float:
    """Wait until every sim host wrote its inventory (its first report)."""
    started = time.monotonic()
    procs.wait_until(
        lambda: dep.scalar("SELECT count(DISTINCT host) FROM "
                           "resource_inventories WHERE host LIKE 'sim-%'")
        >= hosts, what=f"{hosts} hosts to report", timeout=120, interval=0.5)
    return time.monotonic() - started


def _idle_window(scheduler: Proc, sims: Simulators, seconds: float) -> dict:
    sched, sim = scheduler.cpu_seconds(), sims.cpu_seconds()
    machine = procs.machine_cpu()
    started = time.monotonic()
    time.sleep(seconds)
    window = time.monotonic() - started
    hosts = sims.hosts
    reports = hosts * window / REPORT_SPACING
    cpu = scheduler.cpu_seconds() - sched
    return {
        "seconds": round(window, 1), "reports_expected": round(reports),
        "syncs_expected": round(hosts * window / SYNC_SPACING),
        "scheduler_cpu_percent": round(100.0 * cpu / window, 2),
        "scheduler_cpu_ms_per_report": round(1000.0 * cpu / reports, 3),
        "sim_cpu_percent": round(100.0 * (sims.cpu_seconds() - sim)
                                 / window, 1),
        "machine_busy_percent": round(100.0 * procs.busy_share(
            machine, procs.machine_cpu()), 1),
    }


def _placements(session: Session, dep: Deployment, scheduler: Proc,
                hosts: int, seconds: float) -> dict:
    out = session.workdir / f"placement-{hosts}.json"
    procs.run([procs.PYTHON, "-m", "bench.placement_load", "--config-file",
               str(dep.config_file), "--hosts", str(hosts), "--rate",
               str(RATE), "--duration", str(seconds), "--scheduler-pid",
               str(scheduler.pid), "--out", str(out)],
              timeout=seconds + 300)
    return json.loads(out.read_text())


def _phase(session: Session, dep: Deployment, scheduler: Proc,
           sims: Simulators, hosts: int, measured: int) -> dict:
    """Measure at ``hosts``, or at as many as started if more than
    ``measured`` (the count measured before) did."""
    s = session.settings
    started = time.monotonic()
    short = sims.grow(hosts)
    start_seconds = time.monotonic() - started
    if short is not None:
        if sims.hosts <= measured:
            raise BenchError(short)
        hosts = sims.hosts
    reported_after = _wait_reported(dep, hosts)
    idle = _idle_window(scheduler, sims, s.report_idle_seconds)
    load = _placements(session, dep, scheduler, hosts, s.report_load_seconds)
    return {"hosts": hosts, "processes": len(sims.procs), "short": short,
            "start_seconds": round(start_seconds, 1),
            "all_reported_after_seconds": round(reported_after, 1),
            "idle": idle, "load": load,
            "scheduler_rss_mb": round(scheduler.rss_mb(), 1),
            "sim_rss_mb": sims.rss_mb()}


def _broker(session: Session) -> backends.RabbitNode | None:
    """The shared node if its file limit fits ``HOSTS[-1]`` Services,
    else a node of the bench's own with the shell's hard ``ulimit -n``."""
    shared = broker_files()
    session.figures["8_broker_shared"] = shared
    if shared["files_limit"] >= FILES_PER_HOST * HOSTS[-1]:
        return None
    node = backends.RabbitNode(session.workdir).start()
    session.figures["8_broker_own"] = broker_files(node)
    return node


def run_report_scale(session: Session, db: str, transport: str) -> None:
    phases = []
    node = _broker(session)
    try:
        with Deployment(session.workdir, "scale", db_url=db,
                        transport_url=node.url if node else transport
                        ) as dep:
            dep.db_sync()
            scheduler = dep.start_worker("scheduler")
            sims = Simulators(dep, node)
            try:
                for hosts in HOSTS:
                    try:
                        measured = phases[-1]["hosts"] if phases else 0
                        phases.append(_phase(session, dep, scheduler, sims,
                                             hosts, measured))
                    except BenchError as exc:
                        # Keep what ran; the table says what did not.
                        phases.append({"hosts": hosts, "error": str(exc),
                                       "processes": len(sims.procs)})
                        break
                session.figures["8_broker_after"] = _broker_note(node)
            finally:
                sims.stop()
    finally:
        if node is not None:
            node.stop()
    _report(session, phases)


def _report(session: Session, phases: list[dict]) -> None:
    for phase in phases:
        phase.get("load", {}).pop("latencies_ms", None)
    session.figures["8_report_scale"] = phases
    base = phases[0] if "load" in phases[0] else None
    for phase in phases:
        hosts = phase["hosts"]
        if "error" in phase:
            session.add(Row("8", f"{hosts:,} hosts: did not run", None, "",
                            note=phase["error"].splitlines()[0][:160]))
            continue
        _rows(session, phase, base)
    for phase in phases:
        if phase.get("short"):
            session.add(Row("8", f"  {HOSTS[-1]:,} hosts not reached: "
                                 f"stopped at {phase['hosts']:,}",
                            None, "", note=phase["short"]))
    ran = [p for p in phases if "idle" in p]
    if len(ran) > 1:
        low, high = ran[0], ran[-1]
        extra_reports = (high["hosts"] - low["hosts"]) / REPORT_SPACING
        marginal = (10.0 * (high["idle"]["scheduler_cpu_percent"]
                            - low["idle"]["scheduler_cpu_percent"])
                    / extra_reports)
        session.add(Row(
            "8", "  scheduler CPU per report (marginal, "
                 f"{low['hosts']:,} -> {high['hosts']:,} hosts)",
            marginal, "ms",
            note="idle CPU growth / report rate growth; each host also "
                 "sends its volume list every 60 s"))


def _rows(session: Session, phase: dict, base: dict | None) -> None:
    hosts, load, idle = phase["hosts"], phase["load"], phase["idle"]
    first = base is None or base is phase
    b50 = None if first else base["load"]["p50_ms"]
    b99 = None if first else base["load"]["p99_ms"]
    label = f"placement at {hosts:,} hosts reporting, {RATE:.0f}/s open loop"
    session.add(Row("8", f"{label}: p50", load["p50_ms"], "ms", b50,
                    None if first else ratio(load["p50_ms"], b50),
                    "baseline" if first else "report",
                    note=f"{load['placed']}/{load['sent']} placed in "
                         f"{load['window_seconds']:.0f} s; max "
                         f"{load['max_ms']:.0f} ms"))
    session.add(Row("8", f"  p99 at {hosts:,} hosts", load["p99_ms"], "ms",
                    b99, None if first else ratio(load["p99_ms"], b99),
                    "baseline" if first else "report"))
    samples = [count for _, count in load["backlog"]]
    kept_up = (load["placed"] == load["sent"]
               and load["backlog_at_end"] <= RATE)
    session.add(Row(
        "8", f"  backlog of unplaced rows at {hosts:,} hosts (max)",
        max(samples, default=0), "rows",
        target="all placed, <= 1 s of creates left at the end",
        met=kept_up,
        note=f"at the end {load['backlog_at_end']}; scheduler CPU "
             f"{load['scheduler_cpu_percent']:.0f}% "
             f"({load['scheduler_cpu_ms_per_placement']:.1f} ms/placement "
             f"with reports); machine {load['machine_busy_percent']:.0f}% "
             "busy"))
    session.add(Row(
        "8", f"  scheduler CPU with reports only, {hosts:,} hosts",
        idle["scheduler_cpu_percent"], "%",
        note=f"{idle['scheduler_cpu_ms_per_report']:.2f} ms per report "
             f"(~{idle['reports_expected']} in {idle['seconds']:.0f} s); "
             f"simulators {idle['sim_cpu_percent']:.0f}%, machine "
             f"{idle['machine_busy_percent']:.0f}% busy; hosts up in "
             f"{phase['start_seconds']:.0f} s"))
