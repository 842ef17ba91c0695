"""Deletes that rows still depend on are refused through the API (409),
on SQLite and on PostgreSQL (``db_url``): a volume with snapshots, a
snapshot that volumes are being created from."""
from __future__ import annotations

import uuid

import pytest

from tests.functional.api_env import MEMBER, APIEnv
from capstan_volumes import db as volume_db


@pytest.fixture
def env(tmp_path, db_url):
    env = APIEnv(tmp_path, db_url=db_url)
    yield env
    env.close()


def rows(env):
    """An available volume of MEMBER's project with an available snapshot,
    and a volume being created from that snapshot (no worker runs)."""
    ids = {name: str(uuid.uuid4()) for name in ("source", "snap", "copy")}
    volume_db.create(env.db, id=ids["source"], size=1, status="available",
                     host="h", project_id=MEMBER["X-Project-Id"])
    volume_db.SNAPSHOTS.create(env.db, id=ids["snap"],
                               volume_id=ids["source"], size=1, host="h",
                               status="available",
                               project_id=MEMBER["X-Project-Id"])
    volume_db.create(env.db, id=ids["copy"], size=1, status="creating",
                     host="h", snapshot_id=ids["snap"],
                     project_id=MEMBER["X-Project-Id"])
    return ids


def test_snapshot_with_a_volume_being_created_from_it_is_not_deleted(env):
    ids = rows(env)

    response = env.request("DELETE", f"/v1/snapshots/{ids['snap']}",
                           headers=MEMBER)

    assert response.status_code == 409, response.body
    assert response.json_body["error"]["message"] == (
        f"Snapshot {ids['snap']} has volumes being created from it "
        f"{ids['copy']}; delete them first.")
    snapshot = env.request("GET", f"/v1/snapshots/{ids['snap']}",
                           headers=MEMBER).json_body["snapshot"]
    assert snapshot["status"] == "available"


def test_volume_with_a_snapshot_is_not_deleted(env):
    ids = rows(env)

    response = env.request("DELETE", f"/v1/volumes/{ids['source']}",
                           headers=MEMBER)

    assert response.status_code == 409, response.body
    assert response.json_body["error"]["message"] == (
        f"Volume {ids['source']} has snapshots {ids['snap']}; delete them "
        "first.")
