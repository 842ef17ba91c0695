"""Fault injection: real processes over real sockets, RabbitMQ, PostgreSQL.

How to run::

    CAPSTAN_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1/test \\
    CAPSTAN_TEST_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/ \\
        /work/venv/bin/python -m pytest -m slow \\
        tests/integration/test_faults.py -v

(pytest.ini leaves the ``slow`` marker out of the default run.)

Each test starts its own cluster (tests/integration/faults.py: api-server,
scheduler, file-driver volume workers; fresh database and vhost), injects
one fault, and ends with :func:`faults.count` over every create it sent:
accepted (202), reached ``available``, ended in ``error``, stuck in a
transitional status, duplicated (a second backing file, or one for a
volume in error or gone), refused (503, not accepted). "Nothing lost" is
:func:`faults.assert_nothing_lost`. Figures are printed (``-s``) and
appended to ``$CAPSTAN_FAULT_FIGURES`` when set; docs/reliability.md
("Faults") reports them.

The RabbitMQ and PostgreSQL tests stop the machine's shared servers: they
first wait until no other pytest or benchmark runs (tests/integration/
outages.py) and always start the server again. Durations are measured and
recorded, and asserted only against generous bounds that catch a hang.
"""
from __future__ import annotations

import collections
import concurrent.futures
import pathlib
import signal
import socket
import threading
import time

import pytest

from capstan.common.wsgi_service import SOURCE_ETC
from tests.integration import faults, outages, procs

pytestmark = pytest.mark.slow

# A hang, not a slow machine: the figures themselves are recorded.
HANG = 30.0
# Clients creating and reading while PostgreSQL restarts.
PROBERS = 4


@pytest.fixture
def make_cluster(tmp_path, pg_url, rabbit_url):
    """Build and start a FaultCluster; kill its processes afterwards."""
    clusters: list[faults.FaultCluster] = []

    def make(**kwargs) -> faults.FaultCluster:
        cluster = faults.FaultCluster(tmp_path, pg_url, rabbit_url, **kwargs)
        clusters.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in clusters:
        cluster.procs.cleanup()


def _wait_heartbeat(cluster: faults.FaultCluster, host: str,
                    topic: str = "volume") -> int:
    before = cluster.service(host, topic)["report_count"]
    return cluster.wait(
        lambda: (n := cluster.service(host, topic)["report_count"]) > before
        and n, f"a heartbeat of {host}")


# 1 ---------------------------------------------------------------------------

@pytest.mark.timeout(240)
def test_sigkill_worker_with_100_creates_queued_loses_nothing(make_cluster):
    cluster = make_cluster()
    host, count = "vol-c", 100  # alone in az2: every az2 create lands there
    worker, pool = cluster.workers[host], cluster.pool_path(host)

    # Right after a heartbeat, so that it stays up (service_down_time 30)
    # while the scheduler places the creates on it.
    _wait_heartbeat(cluster, host)
    worker.signal(signal.SIGSTOP)
    try:
        created = cluster.create_many(count, availability_zone="az2")
        ids = [c.volume_id for c in created if c.status == 202]
        assert len(ids) == count, [c for c in created if c.status != 202]
        cluster.wait(lambda: all(
            v["host"] == host for v in map(cluster.volumes().get, ids)),
            f"{count} creates placed on {host}")
        assert not list(pool.glob("*.img"))
    finally:
        worker.signal(signal.SIGCONT)
    # Kill it as soon as it is busy: some creates in flight, most queued.
    cluster.wait(lambda: any(pool.glob("*.img")), "a first backing file",
                 timeout=procs.DEADLINE)
    worker.signal(signal.SIGKILL)
    worker.wait()
    at_kill = {"files": len(list(pool.glob("*.img"))),
               "creating": sum(v["status"] == "creating"
                               for v in cluster.volumes().values())}

    worker = cluster.restart_worker(host)
    worker.wait_for_log(r"started, consuming volume\.")
    tally = faults.count(cluster, created)
    faults.record("sigkill_worker", at_kill=at_kill,
                  resent=cluster.resends(), **tally.figures())
    faults.assert_nothing_lost(tally)
    cluster.assert_all_running()


# 2 ---------------------------------------------------------------------------

@pytest.mark.timeout(outages.QUIET_WAIT + 420)
def test_rabbitmq_restart_during_300_creates_loses_nothing(make_cluster):
    outages.wait_for_quiet_machine()
    cluster = make_cluster()
    total = 300
    with concurrent.futures.ThreadPoolExecutor(1) as runner:
        # About 10 creates a second, so that the stream runs through the
        # restart on a fast machine too.
        stream = runner.submit(cluster.create_many, total, parallel=8,
                               pace=0.8)
        cluster.wait(lambda: len(cluster.volumes()) >= total // 3,
                     "a third of the creates", timeout=procs.DEADLINE * 2)
        down_at = time.monotonic()
        with outages.outage(outages.rabbit_stop, outages.rabbit_start):
            pass
        up_at = time.monotonic()
        created = stream.result(timeout=600)

    during = [c for c in created if down_at <= c.started <= up_at]
    assert during, "the stream ended before the restart"

    tally = faults.count(cluster, created, settle=180)
    latencies = sorted(c.elapsed for c in created)
    faults.record("rabbitmq_restart",
                  restart_seconds=round(up_at - down_at, 1),
                  sent_during_restart=len(during),
                  slowest_create=round(latencies[-1], 1),
                  resent=cluster.resends(), **tally.figures())
    faults.assert_nothing_lost(tally)
    assert tally.accepted + tally.refused == total
    cluster.assert_all_running()


# 3 ---------------------------------------------------------------------------

@pytest.mark.timeout(outages.QUIET_WAIT + 300)
def test_rabbitmq_down_answers_503_then_recovers(make_cluster):
    outages.wait_for_quiet_machine()
    cluster = make_cluster(hosts=["vol-a"])
    before = cluster.create()
    assert before.status == 202, before
    cluster.wait(lambda: cluster.volumes()[before.volume_id]["status"]
                 == "available", "the first volume available")
    created = [before]

    with outages.outage(outages.rabbit_stop_app,
                        outages.rabbit_start) as start:
        refused = [cluster.create() for _ in range(3)]
        created += refused
        assert [c.status for c in refused] == [503] * 3, refused
        # A hang would show here; the figure is what the docs report.
        assert max(c.elapsed for c in refused) < HANG
        listing = cluster.request("GET", "/v1/volumes")
        shown = cluster.request("GET", f"/v1/volumes/{before.volume_id}")
        health = cluster.request("GET", "/healthcheck")
        assert (listing.status_code, shown.status_code) == (200, 200)
        assert health.status_code == 503, health.text
        assert health.json()["checks"]["broker"] == "unavailable"
        cluster.assert_all_running()
        start()
        up_at = time.monotonic()

    # No restart of anything: the next create goes all the way through.
    after = cluster.wait(lambda: (c := cluster.create()).status == 202 and c,
                         "a create accepted again")
    created.append(after)
    tally = faults.count(cluster, created)
    recovered = time.monotonic() - up_at
    faults.record("rabbitmq_down",
                  post_503_seconds=[round(c.elapsed, 2) for c in refused],
                  recovery_seconds=round(recovered, 1), **tally.figures())
    faults.assert_nothing_lost(tally)
    assert tally.refused == 3
    cluster.assert_all_running()


# 4 ---------------------------------------------------------------------------

@pytest.mark.timeout(outages.QUIET_WAIT + 300)
def test_postgresql_restart_answers_503_and_loses_nothing(make_cluster):
    outages.wait_for_quiet_machine()
    cluster = make_cluster()
    services = {(h, "volume") for h in cluster.workers} | {
        ("sched", "scheduler"), ("api", "api")}
    created = cluster.create_many(60)  # in flight when the database goes
    assert all(c.status == 202 for c in created), created

    # Clients creating and reading all along: while it stops, is down,
    # starts and recovers.
    posts: list[faults.Created] = []
    probes: list[faults.Created] = []  # every answer, in order
    done = threading.Event()
    paths = ["/v1/volumes", f"/v1/volumes/{created[0].volume_id}",
             "/v1/services", "/v1/scheduler-stats/pools"]
    with concurrent.futures.ThreadPoolExecutor(PROBERS) as runner:
        probers = [runner.submit(_probe, cluster, paths, posts, probes, done)
                   for _ in range(PROBERS)]
        with outages.outage(outages.pg_stop, outages.pg_start) as start:
            time.sleep(5)
            cluster.assert_all_running()
            start()
        cluster.wait(lambda: len(probes) > 10 and all(
            p.status in (200, 202) for p in probes[-10:]),
            "the API on its database again")
        done.set()
        for prober in probers:
            prober.result()

    answers = collections.Counter(p.status for p in probes)
    # 503 while it was away, 200 and 202 around; never a 500 or a hang.
    odd = [p for p in probes if p.status not in (200, 202, 503)]
    assert 503 in answers and not odd, (answers, odd[:5])
    assert max(p.elapsed for p in probes) < HANG
    # Heartbeats resume: every service's report_count grows again.
    for host, topic in sorted(services):
        _wait_heartbeat(cluster, host, topic)
    created += posts
    tally = faults.count(cluster, created, settle=120)
    faults.record("postgresql_restart", answers=dict(answers),
                  resent=cluster.resends(), **tally.figures())
    faults.assert_nothing_lost(tally)
    cluster.assert_all_running()


def _probe(cluster: faults.FaultCluster, paths: list[str], posts: list,
           probes: list, done: threading.Event) -> None:
    while not done.is_set():
        posts.append(cluster.create())
        probes.append(posts[-1])
        probes += [_get(cluster, path) for path in paths]
        time.sleep(0.1)


def _get(cluster: faults.FaultCluster, path: str,
         timeout: float = faults.HTTP_TIMEOUT) -> faults.Created:
    start = time.monotonic()
    try:
        response = cluster.request("GET", path, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - recorded as no answer
        return faults.Created(None, None, time.monotonic() - start, repr(exc))
    return faults.Created(response.status_code, None,
                          time.monotonic() - start,
                          f"GET {path}: {response.text[:200]}")


# 5 ---------------------------------------------------------------------------

def _gated_paste(tmp_path: pathlib.Path) -> tuple[str, pathlib.Path]:
    """etc/api-paste.ini with a gate right after faultwrap on /v1."""
    gate = tmp_path / "gate"
    gate.mkdir()
    text = (pathlib.Path(SOURCE_ETC) / "api-paste.ini").read_text()
    text = text.replace("request_id faultwrap sizelimit",
                        "request_id faultwrap gate sizelimit")
    text += ("\n[filter:gate]\npaste.filter_factory = "
             "tests.integration.gate_filter:gate_filter_factory\n"
             f"gate_dir = {gate}\n")
    path = tmp_path / "api-paste.ini"
    path.write_text(text)
    return str(path), gate


@pytest.mark.timeout(240)
def test_sigterm_api_server_completes_50_requests_in_flight(make_cluster,
                                                            tmp_path):
    paste, gate = _gated_paste(tmp_path)
    cluster = make_cluster(hosts=["vol-a"], paste_config=paste)
    api, posts, gets = cluster.api, 50, 10

    (gate / "armed").touch()
    with concurrent.futures.ThreadPoolExecutor(posts + gets) as pool:
        creates = [pool.submit(cluster.create) for _ in range(posts)]
        lists = [pool.submit(_get, cluster, "/v1/volumes")
                 for _ in range(gets)]
        cluster.wait(lambda: (gate / "entered").exists() and len(
            (gate / "entered").read_text().splitlines()) == posts + gets,
            f"{posts + gets} requests held at the gate")
        api.signal(signal.SIGTERM)
        api.wait_for_log(r"caught SIGTERM")
        assert api.running()  # held by the requests in flight
        (gate / "release").touch()
        created = [f.result() for f in creates]
        listed = [f.result() for f in lists]
    assert api.wait() == 0

    assert [c.status for c in created] == [202] * posts, created
    assert [g.status for g in listed] == [200] * gets, listed
    cluster.api = cluster.start_api()  # to count, through the REST API
    cluster.wait_api(cluster.api)
    tally = faults.count(cluster, created)
    faults.record("sigterm_api", in_flight=posts + gets, **tally.figures())
    faults.assert_nothing_lost(tally)


@pytest.mark.timeout(240)
def test_sigterm_worker_completes_creates_in_flight(make_cluster,
                                                    monkeypatch):
    monkeypatch.setenv("CAPSTAN_TEST_SLOW_CREATE", "3")
    host, count = "vol-c", 3
    cluster = make_cluster(hosts=[host], host_options={host: {"DEFAULT": {
        "volume_driver": f"{faults.DRIVERS}.SlowDriver"}}})
    worker = cluster.workers[host]

    created = cluster.create_many(count)
    worker.wait_for_log(r"slow create of \S+ started", count=count)
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0, worker.log_tail()
    assert len(worker.log_lines(r"slow create of \S+ done")) == count

    tally = faults.count(cluster, created)
    faults.record("sigterm_worker", in_flight=count, **tally.figures())
    faults.assert_nothing_lost(tally)
    assert cluster.service(host)["state"] == "down"  # a clean stop


# 6 ---------------------------------------------------------------------------

@pytest.mark.timeout(240)
def test_500_slow_connections_leave_room_for_a_normal_client(make_cluster):
    cluster = make_cluster(hosts=[])
    host, port = cluster.base_url.split("//")[1].split(":")
    slow: list[socket.socket] = []
    answers = []
    try:
        for _ in range(500):
            try:
                sock = socket.create_connection((host, int(port)), timeout=2)
                sock.sendall(b"GET /v1/volumes HTTP/1.1\r\nHost: x\r\n")
            except OSError:
                break  # the server's backlog is full: measure with fewer
            slow.append(sock)
        for i in range(5):
            for sock in slow:  # a header line now and then: never done
                sock.sendall(b"X-Slow-%d: 1\r\n" % i)
            answers.append(_get(cluster, "/", timeout=HANG))
            time.sleep(1)
    finally:
        for sock in slow:
            sock.close()
    latencies = [round(a.elapsed, 3) for a in answers]
    faults.record("slowloris", connections=len(slow), latencies=latencies)
    assert [a.status for a in answers] == [200] * 5, answers
    assert max(latencies) < HANG, latencies
    cluster.assert_all_running()
