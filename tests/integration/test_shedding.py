"""Load shedding on RabbitMQ and PostgreSQL: over ``[api] max_creating``
the API answers creates 503 with Retry-After, before writing anything;
every create it accepted still ends ``available``.

The cluster of tests/integration/test_volumes.py, its api-server
restarted with ``max_creating = 5``; the scheduler is SIGSTOPped while a
burst arrives, so the backlog cannot drain until it is let go.
"""
from __future__ import annotations

import concurrent.futures
import re
import signal

import pytest

from tests.integration.test_volumes import (  # noqa: F401 (fixture)
    LISTENING, cluster)

pytestmark = pytest.mark.timeout(300)

BOUND = 5
BURST = 30


def test_burst_over_the_bound_is_shed_and_nothing_accepted_is_lost(cluster):
    config = cluster.tmp_path / "capstan-api.conf"
    config.write_text(config.read_text().replace(
        "[api]\n", f"[api]\nmax_creating = {BOUND}\n", 1))
    cluster.api = cluster.procs.restart(cluster.api, "api-server-2.log")
    line = cluster.api.wait_for_log(LISTENING)[0]
    cluster.base_url = re.search(LISTENING, line).group(1)

    cluster.scheduler.signal(signal.SIGSTOP)
    try:
        def post(_):
            return cluster.request("POST", "/v1/volumes",
                                   json={"volume": {"size": 1}})

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            responses = list(pool.map(post, range(BURST)))
    finally:
        cluster.scheduler.signal(signal.SIGCONT)

    accepted = [r.json()["volume"]["id"] for r in responses
                if r.status_code == 202]
    shed = [r for r in responses if r.status_code == 503]
    assert len(accepted) + len(shed) == BURST, [
        (r.status_code, r.text) for r in responses]
    # One api-server: the bound holds exactly.
    assert len(accepted) == BOUND
    for response in shed:
        assert int(response.headers["Retry-After"]) >= 1
        assert "being created already" in response.json()["error"]["message"]

    # Every accepted volume ends available; no row for the shed ones.
    volumes = cluster.wait_settled(accepted)
    assert {v["status"] for v in volumes.values()} == {"available"}
    listed = cluster.request("GET", "/v1/volumes?limit=1000").json()
    assert sorted(v["id"] for v in listed["volumes"]) == sorted(accepted)

    # With the backlog drained, creates are taken again.
    def taken():
        response = cluster.request("POST", "/v1/volumes",
                                   json={"volume": {"size": 1}})
        return response if response.status_code == 202 else None
    cluster.wait(taken, "a create taken after the backlog drained")
