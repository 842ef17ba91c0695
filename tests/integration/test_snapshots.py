"""Snapshots on RabbitMQ and PostgreSQL: REST -> volume workers.

The cluster of tests/integration/test_volumes.py (one api-server with
token auth, one scheduler, volume workers vol-a, vol-b and vol-c with the
file driver; vol-c alone in az2, 40 GiB, over-subscription ratio 1.0).
Snapshots are driven through the REST contract and read back from the
pools: a volume made from a snapshot holds the snapshot's bytes.
"""
from __future__ import annotations

import signal

import pytest

from tests.integration.test_volumes import (  # noqa: F401 (fixture)
    GiB, HOSTS, Cluster, cluster)

pytestmark = pytest.mark.timeout(300)

DATA = b"snapshot bytes " * 4096
OFFSET = 3 * GiB // 2


def snapshot(cluster: Cluster, volume_id: str, expect: int = 202,
             **fields) -> dict:
    response = cluster.request("POST", "/v1/snapshots", json={"snapshot": {
        "volume_id": volume_id, **fields}})
    assert response.status_code == expect, response.text
    return response.json()["snapshot" if expect == 202 else "error"]


def get_snapshot(cluster: Cluster, snapshot_id: str) -> dict | None:
    response = cluster.request("GET", f"/v1/snapshots/{snapshot_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()["snapshot"]


def wait_snapshots(cluster: Cluster, ids: list[str], status: str | None
                   ) -> dict[str, dict | None]:
    """Wait until every snapshot is ``status`` (None: gone)."""
    def reached():
        found = {i: get_snapshot(cluster, i) for i in ids}
        if all((s["status"] if s else None) == status
               for s in found.values()):
            return found
        failed = [s for s in found.values() if s and s["status"] == "error"]
        assert not failed, failed
        return None
    return cluster.wait(reached, f"{len(ids)} snapshots {status}")


def used_gib(cluster: Cluster, host: str) -> int:
    """DISK_GB claimed on ``host``, read from the database."""
    import sqlalchemy as sa

    engine = sa.create_engine(cluster.db_url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT used FROM resource_inventories WHERE host = :h "
                "AND resource_class = 'DISK_GB'"), {"h": host}).scalar()
    finally:
        engine.dispose()


def available_volume(cluster: Cluster, size: int, **fields) -> dict:
    volume = cluster.create(size, **fields)
    return cluster.wait_settled([volume["id"]])[volume["id"]]


def test_snapshot_lifecycle_and_a_volume_from_it(cluster):
    source = available_volume(cluster, 2, availability_zone="az2")
    assert source["host"] == "vol-c"
    backing = cluster.pool_path("vol-c") / f"{source['id']}.img"
    with open(backing, "r+b") as handle:
        handle.seek(OFFSET)
        handle.write(DATA)
    before = used_gib(cluster, "vol-c")

    created = [snapshot(cluster, source["id"], name=f"s{i}")
               for i in range(3)]
    ids = [s["id"] for s in created]
    wait_snapshots(cluster, ids, "available")
    assert used_gib(cluster, "vol-c") == before + 3 * 2
    for snapshot_id in ids:
        assert (cluster.pool_path("vol-c") / f"{snapshot_id}.snap").is_file()

    # List: filters, sort and keyset pages, as volumes have them.
    listed = cluster.request(
        "GET", f"/v1/snapshots?volume_id={source['id']}&sort_key=name"
        "&sort_dir=asc&limit=2").json()
    assert [s["name"] for s in listed["snapshots"]] == ["s0", "s1"]
    rest = cluster.request("GET", listed["next"].replace(cluster.base_url,
                                                         "")).json()
    assert [s["name"] for s in rest["snapshots"]] == ["s2"]
    named = cluster.request("GET", "/v1/snapshots?name=s1&status=available")
    assert [s["id"] for s in named.json()["snapshots"]] == [ids[1]]

    # A volume with snapshots refuses deletion, naming them.
    refused = cluster.request("DELETE", f"/v1/volumes/{source['id']}")
    assert refused.status_code == 409
    assert all(i in refused.json()["error"]["message"] for i in ids)

    # A volume from a snapshot: on the snapshot's host, with its bytes,
    # however the source changed since.
    with open(backing, "r+b") as handle:
        handle.seek(OFFSET)
        handle.write(b"\0" * len(DATA))
    copy = available_volume(cluster, 3, snapshot_id=ids[0])
    assert (copy["host"], copy["size"], copy["snapshot_id"]) == (
        "vol-c", 3, ids[0])
    path = cluster.pool_path("vol-c") / f"{copy['id']}.img"
    assert path.stat().st_size == 3 * GiB
    with open(path, "rb") as handle:
        handle.seek(OFFSET)
        assert handle.read(len(DATA)) == DATA
    too_small = cluster.request("POST", "/v1/volumes", json={"volume": {
        "size": 1, "snapshot_id": ids[0]}})
    assert too_small.status_code == 400, too_small.text

    # Deletes give every GiB back.
    for snapshot_id in ids:
        response = cluster.request("DELETE", f"/v1/snapshots/{snapshot_id}")
        assert response.status_code == 202, response.text
    wait_snapshots(cluster, ids, None)
    assert not list(cluster.pool_path("vol-c").glob("*.snap"))
    assert used_gib(cluster, "vol-c") == before + 3
    cluster.delete(copy["id"])
    cluster.delete(source["id"])
    cluster.wait(lambda: used_gib(cluster, "vol-c") == 0, "vol-c empty")


def test_snapshot_refusals(cluster):
    # Not available: 409, and nothing written.
    failed = cluster.create(1000, availability_zone="az2")
    assert cluster.wait_settled([failed["id"]])[failed["id"]][
        "status"] == "error"
    error = snapshot(cluster, failed["id"], expect=409)
    assert "is error; this needs one of available" in error["message"]
    assert cluster.request("GET", "/v1/snapshots").json() == {
        "snapshots": []}

    # Another project's volume is not there for a member.
    source = available_volume(cluster, 1, availability_zone="az2")
    response = cluster.request("POST", "/v1/snapshots",
                               token=cluster.member_token,
                               json={"snapshot": {"volume_id": source["id"]}})
    assert response.status_code == 400
    assert "not a volume you can see" in response.text

    # Capacity: snapshots claim the host's disk like volumes do. vol-c has
    # 40 GiB; a 20 GiB volume and one snapshot fill it (with the 1 GiB
    # volume above, 41 > 40: the second volume goes elsewhere if needed).
    big = available_volume(cluster, 19, availability_zone="az2")
    assert big["host"] == "vol-c"
    first = snapshot(cluster, big["id"])
    wait_snapshots(cluster, [first["id"]], "available")
    assert used_gib(cluster, "vol-c") == 1 + 19 + 19
    full = snapshot(cluster, big["id"], expect=409)
    assert "no room" in full["message"]
    assert used_gib(cluster, "vol-c") <= 40


def test_worker_killed_during_snapshots_leaves_nothing_stuck(cluster):
    host = "vol-c"
    source = available_volume(cluster, 1, availability_zone="az2")
    doomed = snapshot(cluster, source["id"])
    wait_snapshots(cluster, [doomed["id"]], "available")
    worker = cluster.workers[host]

    # Stopped: the casts wait in its queue while the rows say creating.
    worker.signal(signal.SIGSTOP)
    try:
        ids = [snapshot(cluster, source["id"])["id"] for _ in range(5)]
        assert cluster.request("DELETE", f"/v1/snapshots/{doomed['id']}"
                               ).status_code == 202
        assert get_snapshot(cluster, doomed["id"])["status"] == "deleting"
    finally:
        worker.signal(signal.SIGKILL)
    worker.wait()
    assert {get_snapshot(cluster, i)["status"] for i in ids} == {"creating"}

    # Restarted on the same host, it finishes what its rows say.
    worker = cluster.restart_volume_worker(host)
    worker.wait_for_log(r"started, consuming volume\.")
    wait_snapshots(cluster, ids, "available")
    wait_snapshots(cluster, [doomed["id"]], None)
    snaps = sorted(p.stem for p in cluster.pool_path(host).glob("*.snap"))
    assert snaps == sorted(ids)
    assert not list(cluster.pool_path(host).glob("*.part"))
    assert used_gib(cluster, host) == 1 + 5


def test_rolling_upgrade_old_volume_worker_refuses_snapshots(cluster):
    """vol-c still runs the volume Manager from before snapshots (RPC
    1.0): the API refuses snapshots with a 409 and writes nothing, volumes
    work on; once vol-c runs the new Manager, snapshots work."""
    old = cluster.tmp_path / "capstan-vol-c.conf"
    text = old.read_text()
    old.write_text(text.replace(
        "[DEFAULT]\n", "[DEFAULT]\nvolume_manager = "
        "tests.integration.managers.PreSnapshotVolumeManager\n", 1))
    worker = cluster.restart_volume_worker("vol-c")
    worker.wait_for_log(r"started, consuming volume\.")
    cluster.wait(lambda: cluster.volume_service("vol-c")["state"] == "up",
                 "vol-c up again")

    source = available_volume(cluster, 1, availability_zone="az2")
    error = snapshot(cluster, source["id"], expect=409)
    assert "create_snapshot needs RPC 1.1" in error["message"], error
    assert cluster.request("GET", "/v1/snapshots").json() == {
        "snapshots": []}
    # The old worker still serves what it knows.
    cluster.delete(source["id"])

    old.write_text(text)
    worker = cluster.restart_volume_worker("vol-c")
    worker.wait_for_log(r"started, consuming volume\.")
    source = available_volume(cluster, 1, availability_zone="az2")

    def accepted():
        response = cluster.request("POST", "/v1/snapshots", json={
            "snapshot": {"volume_id": source["id"]}})
        if response.status_code == 409:
            return None  # the API's cap is cached for up to 1 s here
        assert response.status_code == 202, response.text
        return response.json()["snapshot"]

    new = cluster.wait(accepted, "the cap to rise to 1.1")
    wait_snapshots(cluster, [new["id"]], "available")
    assert len(HOSTS) == 3
