"""Integration tier for host aggregates: REST -> fanout -> scheduler.

The cluster of tests/integration/test_volumes.py (one api-server, one
scheduler, three volume workers on PostgreSQL and RabbitMQ; vol-a and
vol-b report az1, vol-c az2). An aggregate puts the smallest host, vol-a,
in zone ``az-agg`` with ``ssd = true``; requests for that zone or that
metadata land on it, and nowhere once it is out of the aggregate. A
scheduler restarted meanwhile reads the aggregates from the database.
"""
from __future__ import annotations

import pytest

from tests.integration.test_volumes import cluster  # noqa: F401 (fixture)

SSD = {"aggregate_metadata": {"ssd": "true"}}


def _aggregate_action(cluster, aggregate_id, body):
    response = cluster.request(
        "POST", f"/v1/os-aggregates/{aggregate_id}/action", json=body)
    assert response.status_code == 200, response.text
    return response.json()["aggregate"]


def _wait_zone(cluster, host, zone):
    cluster.wait(lambda: cluster.pools().get(host, {}).get(
        "availability_zone") == zone, f"the scheduler to see {host} in {zone}")


@pytest.mark.timeout(300)
def test_aggregate_zone_and_metadata_place_volumes(cluster):  # noqa: F811
    response = cluster.request("POST", "/v1/os-aggregates", json={
        "aggregate": {"name": "fast", "availability_zone": "az-agg",
                      "metadata": {"ssd": "true"}}})
    assert response.status_code == 200, response.text
    aggregate_id = response.json()["aggregate"]["id"]
    added = _aggregate_action(cluster, aggregate_id,
                              {"add_host": {"host": "vol-a"}})
    assert added["hosts"] == ["vol-a"]
    _wait_zone(cluster, "vol-a", "az-agg")

    by_zone = cluster.create_many(3, 1, availability_zone="az-agg")
    by_hint = cluster.create_many(3, 1, scheduler_hints=SSD)
    volumes = cluster.wait_available(v["id"] for v in by_zone + by_hint)
    assert {v["host"] for v in volumes.values()} == {"vol-a"}, volumes
    assert {v["availability_zone"] for v in volumes.values()} == {"az-agg"}

    # A scheduler that starts now reads the aggregates from the database.
    cluster.scheduler = cluster.procs.restart(cluster.scheduler,
                                              "scheduler-2.log")
    cluster.scheduler.wait_for_log(r"started, consuming scheduler\.")
    cluster.wait_for_pools({"vol-a", "vol-b", "vol-c"})
    assert cluster.pools()["vol-a"]["availability_zone"] == "az-agg"

    _aggregate_action(cluster, aggregate_id,
                      {"remove_host": {"host": "vol-a"}})
    _wait_zone(cluster, "vol-a", "az1")
    refused = [cluster.create(1, availability_zone="az-agg"),
               cluster.create(1, scheduler_hints=SSD)]
    for volume in cluster.wait_settled(v["id"] for v in refused).values():
        assert volume["status"] == "error", volume
        assert volume["fault"].startswith("No valid host was found"), volume

    response = cluster.request("DELETE", f"/v1/os-aggregates/{aggregate_id}")
    assert response.status_code == 204, response.text
    cluster.assert_all_running()
