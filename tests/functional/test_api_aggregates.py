"""/v1/os-aggregates through the whole paste pipeline, on SQLite and
PostgreSQL; and placement by aggregate zone and metadata through REST, with
a real scheduler and volume workers on the env's ``fake://`` bus
(:mod:`tests.functional.api_cloud`)."""
from __future__ import annotations

import oslo_messaging as messaging
import pytest

from capstan.api import factories
from capstan.common import rpc
from tests.functional.api_cloud import APICloud, wait_for
from tests.functional.api_env import (ADMIN, MEMBER, PASTE_INI, APIEnv,
                                      assert_error)

pytestmark = pytest.mark.timeout(180)

PATH = "/v1/os-aggregates"


@pytest.fixture
def env(tmp_path, db_url):
    env = APIEnv(tmp_path, db_url=db_url)
    yield env
    env.close()


class Recorder:
    """A scheduler endpoint recording the aggregates fanned out to it."""

    target = messaging.Target(version="1.0")

    def __init__(self) -> None:
        self.fanouts: list[list[dict]] = []

    @rpc.expose
    def update_aggregates(self, context, aggregates):
        self.fanouts.append(aggregates)


@pytest.fixture
def recorder(env):
    endpoint = Recorder()
    server = rpc.get_server(env.deps.transport,
                            messaging.Target(topic="scheduler", server="s1"),
                            [endpoint])
    server.start()
    yield endpoint
    server.stop()
    server.wait()


# -- helpers ------------------------------------------------------------


def create(env, **aggregate):
    response = env.request("POST", PATH, {"aggregate": aggregate},
                           headers=ADMIN)
    assert response.status_code == 200, response.body
    return response.json_body["aggregate"]


def action(env, aggregate_id, body, headers=ADMIN):
    return env.request("POST", f"{PATH}/{aggregate_id}/action", body,
                       headers=headers)


def add_host(env, aggregate_id, host):
    response = action(env, aggregate_id, {"add_host": {"host": host}})
    assert response.status_code == 200, response.body
    return response.json_body["aggregate"]


def remove_host(env, aggregate_id, host):
    response = action(env, aggregate_id, {"remove_host": {"host": host}})
    assert response.status_code == 200, response.body
    return response.json_body["aggregate"]


def listing(env):
    response = env.request("GET", PATH, headers=ADMIN)
    assert response.status_code == 200, response.body
    return response.json_body["aggregates"]


# -- the resource -------------------------------------------------------


def test_aggregates_create_show_list(env):
    created = create(env, name="fast", availability_zone="az-agg",
                     metadata={"ssd": "true"})

    assert created == {
        "id": created["id"], "name": "fast", "availability_zone": "az-agg",
        "hosts": [], "metadata": {"ssd": "true"},
        "created_at": "2024-01-01T12:00:00+00:00", "updated_at": None}
    shown = env.request("GET", f"{PATH}/{created['id']}", headers=ADMIN)
    assert shown.status_code == 200
    assert shown.json_body == {"aggregate": created}
    assert listing(env) == [created]


def test_aggregates_create_without_zone_or_metadata(env):
    created = create(env, name="plain")

    assert (created["availability_zone"], created["metadata"]) == (None, {})


def test_aggregates_add_and_remove_hosts(env):
    aggregate_id = create(env, name="fast")["id"]
    env.clock.advance(5)

    add_host(env, aggregate_id, "vol-b")
    added = add_host(env, aggregate_id, "vol-a")
    assert added["hosts"] == ["vol-a", "vol-b"]
    assert added["updated_at"] == "2024-01-01T12:00:05+00:00"

    assert remove_host(env, aggregate_id, "vol-b")["hosts"] == ["vol-a"]
    assert listing(env)[0]["hosts"] == ["vol-a"]


def test_aggregates_set_metadata_merges_and_null_deletes(env):
    aggregate_id = create(env, name="fast",
                          metadata={"ssd": "true", "rack": "r1"})["id"]

    response = action(env, aggregate_id, {"set_metadata": {
        "metadata": {"rack": None, "gpu": "no"}}})

    assert response.status_code == 200, response.body
    assert response.json_body["aggregate"]["metadata"] == {"ssd": "true",
                                                           "gpu": "no"}


def test_aggregates_delete_answers_204_then_404(env):
    aggregate_id = create(env, name="gone")["id"]

    response = env.request("DELETE", f"{PATH}/{aggregate_id}", headers=ADMIN)

    assert response.status_code == 204
    assert response.body == b""
    assert listing(env) == []
    assert_error(env.request("GET", f"{PATH}/{aggregate_id}",
                             headers=ADMIN), 404)
    # The name is free again.
    create(env, name="gone")


@pytest.mark.parametrize("body", [
    {},
    {"aggregate": "fast"},
    {"aggregate": {}},
    {"aggregate": {"name": ""}},
    {"aggregate": {"name": "x" * 256}},
    {"aggregate": {"name": 5}},
    {"aggregate": {"name": "a", "availability_zone": ""}},
    {"aggregate": {"name": "a", "availability_zone": 3}},
    {"aggregate": {"name": "a", "metadata": ["ssd"]}},
    {"aggregate": {"name": "a", "metadata": {"ssd": True}}},
    {"aggregate": {"name": "a", "metadata": {"ssd": None}}},
    {"aggregate": {"name": "a", "metadata": {"": "x"}}},
    {"aggregate": {"name": "a", "metadata": {f"k{i}": "v"
                                             for i in range(65)}}},
    {"aggregate": {"name": "a", "hosts": ["h1"]}},
    {"aggregate": {"name": "a"}, "extra": 1},
])
def test_aggregates_create_invalid_body_answers_400(env, body):
    error = assert_error(env.request("POST", PATH, body, headers=ADMIN), 400)
    assert "aggregate" in error["message"]


@pytest.mark.parametrize("body", [
    {"add_host": {"host": "h1"}, "remove_host": {"host": "h1"}},
    {"migrate": {}},
    {"add_host": "h1"},
    {"add_host": {}},
    {"add_host": {"host": ""}},
    {"add_host": {"host": "h1", "extra": 1}},
    {"remove_host": {"host": 7}},
    {"set_metadata": {"metadata": None}},
    {"set_metadata": {"metadata": {"a": 1}}},
    {"set_metadata": {}},
])
def test_aggregates_action_invalid_body_answers_400(env, body):
    aggregate_id = create(env, name="fast")["id"]

    assert_error(action(env, aggregate_id, body), 400)


def test_aggregates_set_metadata_beyond_64_items_answers_400(env):
    aggregate_id = create(env, name="fast", metadata={
        f"k{i}": "v" for i in range(60)})["id"]

    error = assert_error(action(env, aggregate_id, {"set_metadata": {
        "metadata": {f"n{i}": "v" for i in range(5)}}}), 400)

    assert "65 items" in error["message"]


def test_aggregates_conflicts_answer_409(env):
    aggregate_id = create(env, name="fast", availability_zone="az1")["id"]
    other_zone = create(env, name="other", availability_zone="az2")["id"]
    add_host(env, aggregate_id, "h1")

    assert "exists already" in assert_error(env.request(
        "POST", PATH, {"aggregate": {"name": "fast"}}, headers=ADMIN),
        409)["message"]
    assert "already" in assert_error(action(
        env, aggregate_id, {"add_host": {"host": "h1"}}), 409)["message"]
    assert "not in" in assert_error(action(
        env, aggregate_id, {"remove_host": {"host": "h2"}}), 409)["message"]
    assert "az1" in assert_error(action(
        env, other_zone, {"add_host": {"host": "h1"}}), 409)["message"]
    assert "still has hosts" in assert_error(env.request(
        "DELETE", f"{PATH}/{aggregate_id}", headers=ADMIN), 409)["message"]


@pytest.mark.parametrize("method, suffix, body", [
    ("GET", "/4242", None),
    ("DELETE", "/4242", None),
    ("POST", "/4242/action", {"add_host": {"host": "h1"}}),
    ("GET", "/99999999999999999999", None),
    ("GET", "/abc", None),
])
def test_aggregates_unknown_id_answers_404(env, method, suffix, body):
    assert_error(env.request(method, PATH + suffix, body, headers=ADMIN),
                 404)


@pytest.mark.parametrize("method, suffix, body", [
    ("GET", "", None),
    ("POST", "", {"aggregate": {"name": "mine"}}),
    ("GET", "/1", None),
    ("DELETE", "/1", None),
    ("POST", "/1/action", {"add_host": {"host": "h1"}}),
])
def test_aggregates_member_answers_403(env, method, suffix, body):
    create(env, name="fast")

    assert_error(env.request(method, PATH + suffix, body, headers=MEMBER),
                 403)


# -- the fanout to the schedulers ----------------------------------------


def test_aggregates_each_change_fans_every_aggregate_out(env, recorder):
    aggregate_id = create(env, name="fast", availability_zone="az-agg",
                          metadata={"ssd": "true"})["id"]
    add_host(env, aggregate_id, "h1")
    create(env, name="plain")

    wait_for(lambda: len(recorder.fanouts) == 3, "three fanouts")
    assert recorder.fanouts[-1] == [
        {"id": aggregate_id, "name": "fast", "availability_zone": "az-agg",
         "hosts": ["h1"], "metadata": {"ssd": "true"}},
        {"id": aggregate_id + 1, "name": "plain", "availability_zone": None,
         "hosts": [], "metadata": {}}]


def test_aggregates_with_broker_down_still_commit_the_change(tmp_path):
    env = APIEnv(tmp_path, transport_url="rabbit://guest:guest@127.0.0.1:1/")
    try:
        env.conf.set_override("rpc_client_retry", 0)
        env.app = factories.load_app(PASTE_INI, "main", env.deps)

        aggregate_id = create(env, name="fast")["id"]
        add_host(env, aggregate_id, "h1")

        assert listing(env)[0]["hosts"] == ["h1"]
    finally:
        env.close()


# -- placement through REST ----------------------------------------------


@pytest.fixture
def cloud(env):
    cloud = APICloud(env)
    yield cloud
    cloud.stop()


def create_volume(env, **volume):
    volume.setdefault("size", 1)
    response = env.request("POST", "/v1/volumes", {"volume": volume},
                           headers=MEMBER)
    assert response.status_code == 202, response.body
    return response.json_body["volume"]["id"]


def settled(env, volume_id):
    def done():
        volume = env.request("GET", f"/v1/volumes/{volume_id}",
                             headers=MEMBER).json_body["volume"]
        return volume if volume["status"] in ("available", "error") else None
    return wait_for(done, f"volume {volume_id} to settle")


def zone_of(cloud, host):
    return {pool["host"]: pool["capabilities"]["availability_zone"]
            for pool in cloud.pools()}[host]


def test_aggregates_place_volumes_by_zone_and_metadata(env, cloud):
    # vol-a and vol-b report az1; vol-b (200 GiB) would win on capacity
    # anyway, so the aggregate holds the smaller vol-a.
    aggregate_id = create(env, name="fast", availability_zone="az-agg",
                          metadata={"ssd": "true"})["id"]
    add_host(env, aggregate_id, "vol-a")
    wait_for(lambda: zone_of(cloud, "vol-a") == "az-agg",
             "the scheduler to see vol-a in az-agg")

    by_zone = settled(env, create_volume(env, availability_zone="az-agg"))
    by_hint = settled(env, create_volume(env, scheduler_hints={
        "aggregate_metadata": {"ssd": "true"}}))
    neither = settled(env, create_volume(env))

    assert (by_zone["status"], by_zone["host"]) == ("available", "vol-a")
    assert (by_hint["status"], by_hint["host"]) == ("available", "vol-a")
    # The volume takes the zone of its host, the aggregate's.
    assert by_hint["availability_zone"] == "az-agg"
    assert neither["host"] == "vol-b"

    remove_host(env, aggregate_id, "vol-a")
    wait_for(lambda: zone_of(cloud, "vol-a") == "az1",
             "the scheduler to see vol-a back in az1")

    for request in ({"availability_zone": "az-agg"},
                    {"scheduler_hints": {
                        "aggregate_metadata": {"ssd": "true"}}}):
        volume = settled(env, create_volume(env, **request))
        assert volume["status"] == "error"
        assert volume["fault"].startswith("No valid host was found")


def test_aggregates_reach_a_scheduler_started_after_them(env):
    aggregate_id = create(env, name="fast", availability_zone="az-agg")["id"]
    add_host(env, aggregate_id, "vol-a")

    cloud = APICloud(env)
    try:
        assert zone_of(cloud, "vol-a") == "az-agg"
        assert zone_of(cloud, "vol-b") == "az1"
    finally:
        cloud.stop()
