"""Snapshots on the embedded defaults: ``api-server --all-in-one`` (SQLite,
the in-process transport, the file driver), driven over HTTP as a user
would, the bytes of a volume made from a snapshot read back."""
from __future__ import annotations

import sqlite3

import pytest

from tests.functional.test_all_in_one import (  # noqa: F401 (fixtures)
    DEADLINE, DEMO, GiB, aio, start, wait_status)
from tests.integration.procs import wait_until

pytestmark = pytest.mark.timeout(240)

DATA = b"capstan snapshot test " * 1000
OFFSET = 512 * 1024 * 1024  # in the middle of a 1 GiB volume


def create(aio, kind: str, body: dict) -> dict:
    response = aio.request("POST", f"/v1/{kind}s", DEMO, json={kind: body})
    assert response.status_code == 202, response.text
    return response.json()[kind]


def snapshot_status(aio, snapshot_id: str, status: str) -> dict:
    def reached():
        response = aio.request("GET", f"/v1/snapshots/{snapshot_id}", DEMO)
        assert response.status_code == 200, response.text
        snapshot = response.json()["snapshot"]
        assert snapshot["status"] != "error", snapshot
        return snapshot if snapshot["status"] == status else None
    return wait_until(reached, what=f"snapshot {status}", timeout=DEADLINE,
                      diagnose=aio.tail)


def allocations(aio) -> dict:
    with sqlite3.connect(aio.state_path / "capstan.sqlite") as db:
        return dict(db.execute("SELECT consumer_id, amount FROM "
                               "resource_allocations").fetchall())


def test_all_in_one_snapshot_create_copy_and_delete(aio):
    source = create(aio, "volume", {"size": 1, "name": "source"})
    wait_status(aio, source["id"], "available")
    backing = aio.state_path / "volumes" / f"{source['id']}.img"
    with open(backing, "r+b") as handle:
        handle.seek(OFFSET)
        handle.write(DATA)

    snapshot = create(aio, "snapshot", {"volume_id": source["id"],
                                        "name": "before"})
    assert (snapshot["volume_id"], snapshot["size"], snapshot["status"]) == (
        source["id"], 1, "creating")
    snapshot = snapshot_status(aio, snapshot["id"], "available")
    # Its size is claimed on the host, like a volume's.
    assert allocations(aio)[snapshot["id"]] == 1
    listed = aio.request("GET", f"/v1/snapshots?volume_id={source['id']}",
                         DEMO).json()["snapshots"]
    assert [s["id"] for s in listed] == [snapshot["id"]]
    # The source changes afterwards; the snapshot keeps what it had.
    with open(backing, "r+b") as handle:
        handle.seek(OFFSET)
        handle.write(b"x" * len(DATA))

    refused = aio.request("DELETE", f"/v1/volumes/{source['id']}", DEMO)
    assert refused.status_code == 409
    assert snapshot["id"] in refused.json()["error"]["message"]

    copy = create(aio, "volume", {"size": 1, "snapshot_id": snapshot["id"]})
    copy = wait_status(aio, copy["id"], "available")
    assert copy["snapshot_id"] == snapshot["id"]
    copy_backing = aio.state_path / "volumes" / f"{copy['id']}.img"
    with open(copy_backing, "rb") as handle:
        handle.seek(OFFSET)
        assert handle.read(len(DATA)) == DATA
    assert copy_backing.stat().st_size == 1 * GiB
    # Sparse: the copy holds the written data, not a whole GiB.
    assert copy_backing.stat().st_blocks * 512 < 64 * 1024 * 1024

    response = aio.request("DELETE", f"/v1/snapshots/{snapshot['id']}", DEMO)
    assert response.status_code == 202, response.text
    wait_until(lambda: aio.request("GET", f"/v1/snapshots/{snapshot['id']}",
                                   DEMO).status_code == 404,
               what="the snapshot gone", timeout=DEADLINE, diagnose=aio.tail)
    assert snapshot["id"] not in allocations(aio)
    assert aio.request("DELETE", f"/v1/volumes/{source['id']}",
                       DEMO).status_code == 202


def test_all_in_one_snapshot_refusals(aio):
    failed = create(aio, "volume", {"size": 16384})  # more than the pool
    wait_until(lambda: aio.request("GET", f"/v1/volumes/{failed['id']}",
                                   DEMO).json()["volume"]["status"] == "error",
               what="the volume in error", timeout=DEADLINE,
               diagnose=aio.tail)
    response = aio.request("POST", "/v1/snapshots", DEMO,
                           json={"snapshot": {"volume_id": failed["id"]}})
    assert response.status_code == 409
    assert "is error; this needs one of available" in response.json()[
        "error"]["message"]

    source = create(aio, "volume", {"size": 2})
    wait_status(aio, source["id"], "available")
    snapshot = create(aio, "snapshot", {"volume_id": source["id"]})
    snapshot_status(aio, snapshot["id"], "available")
    response = aio.request("POST", "/v1/volumes", DEMO, json={"volume": {
        "size": 1, "snapshot_id": snapshot["id"]}})
    assert response.status_code == 400
    assert "at least the snapshot's, 2 GiB" in response.text

    other = {"X-User-Id": "eve", "X-Project-Id": "other"}
    assert aio.request("GET", f"/v1/snapshots/{snapshot['id']}",
                       other).status_code == 404
    assert aio.request("POST", "/v1/snapshots", other, json={"snapshot": {
        "volume_id": source["id"]}}).status_code == 400
    assert aio.request("GET", "/v1/snapshots", other).json() == {
        "snapshots": []}


def test_all_in_one_killed_during_snapshots_finishes_them_on_restart(start):
    first = start(OS_API__BIND_PORT="0")
    first.wait_ready()
    source = create(first, "volume", {"size": 1})
    wait_status(first, source["id"], "available")
    ids = [create(first, "snapshot", {"volume_id": source["id"]})["id"]
           for _ in range(5)]
    first.kill()  # SIGKILL, wherever the snapshots were

    again = start(OS_API__BIND_PORT="0")
    again.wait_ready()
    for snapshot_id in ids:
        snapshot_status(again, snapshot_id, "available")
    snaps = sorted(p.stem for p in (again.state_path / "volumes").glob(
        "*.snap"))
    assert snaps == sorted(ids)
    assert not list((again.state_path / "volumes").glob("*.part"))
    assert sum(amount for consumer, amount in allocations(again).items()
               if consumer in ids) == 5
