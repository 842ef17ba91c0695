"""/v1/volumes through the whole paste pipeline, on SQLite and PostgreSQL.

The lifecycle tests run a real scheduler and volume workers (fake driver)
on the env's ``fake://`` bus (:mod:`tests.functional.api_cloud`); the
others look at the rows and at what reached a recording RPC endpoint.
"""
from __future__ import annotations

import time
import urllib.parse
import uuid

import oslo_messaging as messaging
import pytest

from capstan.api import factories
from capstan.common import rpc
from tests.functional.api_cloud import APICloud, wait_for
from tests.functional.api_env import (ADMIN, MEMBER, PASTE_INI, APIEnv,
                                      assert_error)
from capstan_volumes import db as volume_db

pytestmark = pytest.mark.timeout(180)

OTHER = {"X-User-Id": "carol", "X-Project-Id": "p2", "X-Roles": "member"}


@pytest.fixture
def env(tmp_path, db_url):
    env = APIEnv(tmp_path, db_url=db_url)
    yield env
    env.close()


@pytest.fixture
def sqlite_env(tmp_path):
    env = APIEnv(tmp_path)
    yield env
    env.close()


@pytest.fixture
def cloud(env):
    cloud = APICloud(env)
    yield cloud
    cloud.stop()


class Recorder:
    """An RPC endpoint that records the casts it gets, and the row of the
    volume as it was when the cast arrived."""

    def __init__(self, db) -> None:
        self.db = db
        self.casts: list[tuple[str, dict, tuple]] = []

    def _record(self, method, kwargs):
        row = volume_db.get(self.db, kwargs["volume_id"])
        self.casts.append((method, kwargs, (row.status, row.host)))

    @rpc.expose
    def create_volume(self, context, **kwargs):
        self._record("create_volume", kwargs)

    @rpc.expose
    def delete_volume(self, context, **kwargs):
        self._record("delete_volume", kwargs)

    @rpc.expose
    def extend_volume(self, context, **kwargs):
        self._record("extend_volume", kwargs)


@pytest.fixture
def recorder(sqlite_env):
    """Records casts to the scheduler and to the volume host "h1"."""
    endpoint = Recorder(sqlite_env.db)
    servers = [rpc.get_server(sqlite_env.deps.transport,
                              messaging.Target(topic=topic, server=server),
                              [endpoint])
               for topic, server in (("scheduler", "s1"), ("volume", "h1"))]
    for server in servers:
        server.start()
    yield endpoint
    for server in servers:
        server.stop()
        server.wait()


# -- helpers ------------------------------------------------------------


def create(env, headers=MEMBER, **volume):
    volume.setdefault("size", 1)
    response = env.request("POST", "/v1/volumes", {"volume": volume},
                           headers=headers)
    assert response.status_code == 202, response.body
    return response.json_body["volume"]


def show(env, volume_id, headers=MEMBER):
    return env.request("GET", f"/v1/volumes/{volume_id}", headers=headers)


def listing(env, query="", headers=MEMBER):
    response = env.request("GET", "/v1/volumes" + query, headers=headers)
    assert response.status_code == 200, response.body
    return response.json_body


def extend(env, volume_id, new_size, headers=MEMBER):
    return env.request("POST", f"/v1/volumes/{volume_id}/action",
                       {"extend": {"new_size": new_size}}, headers=headers)


def delete(env, volume_id, headers=MEMBER):
    return env.request("DELETE", f"/v1/volumes/{volume_id}",
                       headers=headers)


def wait_status(env, volume_id, status, headers=MEMBER):
    def settled():
        volume = show(env, volume_id, headers).json_body["volume"]
        return volume if volume["status"] == status else None
    return wait_for(settled, f"volume {volume_id} to be {status}")


def place(env, volume_id, status="available", host="h1"):
    """Put a row where a worker would have (no worker in these tests)."""
    assert volume_db.cas_creating(env.db, volume_id, expected_host=None,
                                  host=host)
    assert volume_db.cas(env.db, volume_id, "creating", status=status)


# -- the whole flow -----------------------------------------------------


def test_volume_lifecycle_create_extend_delete(env, cloud):
    volume = create(env, size=10, name="data", metadata={"tier": "gold"})
    assert volume["status"] == "creating"
    assert volume["host"] is None

    volume = wait_status(env, volume["id"], "available")
    assert volume["host"] in cloud.drivers
    assert volume["export_location"] == (f"fake://{volume['host']}/"
                                         f"{volume['id']}")
    assert (volume["name"], volume["size"], volume["metadata"]) == (
        "data", 10, {"tier": "gold"})
    assert volume["availability_zone"] == "az1"
    assert [v["id"] for v in listing(env)["volumes"]] == [volume["id"]]
    assert show(env, volume["id"], ADMIN).json_body["volume"] == volume

    response = extend(env, volume["id"], 25)
    assert response.status_code == 202
    assert response.body == b""
    wait_for(lambda: show(env, volume["id"]).json_body["volume"]["size"]
             == 25, "the extended size")
    assert wait_status(env, volume["id"], "available")["fault"] is None
    assert cloud.drivers[volume["host"]].volumes[volume["id"]] == 25

    assert delete(env, volume["id"]).status_code == 202
    wait_for(lambda: show(env, volume["id"]).status_code == 404,
             "the volume to be deleted")
    assert_error(show(env, volume["id"]), 404)
    assert listing(env)["volumes"] == []
    assert volume["id"] not in cloud.drivers[volume["host"]].volumes
    assert_error(delete(env, volume["id"]), 404)
    assert_error(extend(env, volume["id"], 30), 404)


def test_volume_scheduler_hints_place_apart_and_together(env, cloud):
    first = wait_status(env, create(env)["id"], "available")

    apart = create(env, scheduler_hints={"different_host": [first["id"]]})
    beside = create(env, scheduler_hints={"same_host": [first["id"]]})

    assert wait_status(env, apart["id"], "available")["host"] != \
        first["host"]
    assert wait_status(env, beside["id"], "available")["host"] == \
        first["host"]


def test_volume_unplaceable_goes_to_error_and_deletes_at_once(env, cloud):
    volume = create(env, size=16384)

    volume = wait_status(env, volume["id"], "error")
    assert volume["host"] is None
    assert volume["fault"].startswith("No valid host was found")
    assert delete(env, volume["id"]).status_code == 202
    assert_error(show(env, volume["id"]), 404)


# -- create: the row first, then the cast -------------------------------


def test_volume_create_writes_row_before_cast(sqlite_env, recorder):
    env = sqlite_env
    hint = create(env)["id"]
    volume = create(env, size=3, availability_zone="az1",
                    scheduler_hints={"different_host": [hint.upper()]})

    assert volume["project_id"] == "p1" and volume["user_id"] == "bob"
    assert volume["name"] is None and volume["metadata"] == {}
    row = volume_db.get(env.db, volume["id"])
    assert (row.status, row.host, row.schedule_attempts) == (
        "creating", None, 0)
    assert row.scheduler_hints == {"different_host": [hint]}
    [(method, kwargs, seen)] = wait_for(
        lambda: [c for c in recorder.casts
                 if c[1]["volume_id"] == volume["id"]], "the create cast")
    assert method == "create_volume"
    assert kwargs == {"volume_id": volume["id"], "request_spec": {
        "size": 3, "availability_zone": "az1",
        "scheduler_hints": {"different_host": [hint]}}}
    assert seen == ("creating", None)


def test_volume_create_answers_location_and_request_id(sqlite_env):
    response = sqlite_env.request("POST", "/v1/volumes",
                                  {"volume": {"size": 1}}, headers=MEMBER)
    assert response.status_code == 202
    volume_id = response.json_body["volume"]["id"]
    assert response.location == f"http://localhost/v1/volumes/{volume_id}"
    assert response.headers["x-openstack-request-id"].startswith("req-")


# -- validation ---------------------------------------------------------

A_UUID = "0b8e3c2e-7e0a-4a8e-9a61-2f3f3d1b6c11"


@pytest.mark.parametrize("body, words", [
    ({}, "volume"),
    ({"volume": {}}, "volume.size: Field required"),
    ({"volume": {"size": 1}, "extra": 1}, "volume"),
    ({"volume": [1]}, "volume"),
    ({"volume": {"size": 1, "color": "red"}}, "volume.color: Unknown field"),
    ({"volume": {"size": 0}}, "volume.size: Input should be greater"),
    ({"volume": {"size": 16385}}, "volume.size: Input should be less"),
    ({"volume": {"size": True}}, "integer"),
    ({"volume": {"size": "1"}}, "integer"),
    ({"volume": {"size": 1, "name": 5}}, "volume.name"),
    ({"volume": {"size": 1, "name": "x" * 256}}, "255"),
    ({"volume": {"size": 1, "name": "a\u0000b"}}, "NUL"),
    ({"volume": {"size": 1, "availability_zone": ""}}, "availability_zone"),
    ({"volume": {"size": 1, "availability_zone": 3}}, "availability_zone"),
    ({"volume": {"size": 1, "metadata": []}}, "metadata"),
    ({"volume": {"size": 1, "metadata": {"k": 1}}}, "metadata"),
    ({"volume": {"size": 1, "metadata": {"": "v"}}}, "metadata"),
    ({"volume": {"size": 1, "metadata": {"k": "v" * 256}}}, "255"),
    ({"volume": {"size": 1, "metadata": {"k" * 256: "v"}}}, "255"),
    ({"volume": {"size": 1, "metadata": {str(i): "v" for i in range(65)}}},
     "at most 64 items"),
    ({"volume": {"size": 1, "scheduler_hints": {"near": [A_UUID]}}},
     "scheduler_hints"),
    ({"volume": {"size": 1, "scheduler_hints": {"same_host": A_UUID}}},
     "list"),
    ({"volume": {"size": 1, "scheduler_hints": {"same_host": ["vol-1"]}}},
     "same_host[0]: Input should be an id (a UUID)"),
    ({"volume": {"size": 1, "scheduler_hints": []}}, "scheduler_hints"),
    ({"volume": {"size": 1, "scheduler_hints": {"same_host": [A_UUID]}}},
     "not a volume you can see"),
])
def test_volume_create_invalid_body_answers_400(sqlite_env, body, words):
    response = sqlite_env.request("POST", "/v1/volumes", body,
                                  headers=MEMBER)
    assert words in assert_error(response, 400)["message"]
    assert listing(sqlite_env, headers=ADMIN)["volumes"] == []


def test_volume_create_hint_of_another_project_answers_400(sqlite_env):
    theirs = create(sqlite_env, OTHER)["id"]
    response = sqlite_env.request(
        "POST", "/v1/volumes", {"volume": {"size": 1, "scheduler_hints": {
            "different_host": [theirs]}}}, headers=MEMBER)
    assert_error(response, 400)


def test_volume_create_bad_media_and_size_answer_415_and_413(sqlite_env):
    assert_error(sqlite_env.request("POST", "/v1/volumes", b"size=1",
                                    headers=MEMBER,
                                    content_type="text/plain"), 415)
    assert_error(sqlite_env.request("POST", "/v1/volumes", b"{]",
                                    headers=MEMBER), 400)
    big = {"volume": {"size": 1, "name": "x" * 200_000}}
    assert_error(sqlite_env.request("POST", "/v1/volumes", big,
                                    headers=MEMBER), 413)


@pytest.mark.parametrize("query", [
    "?colour=red", "?limit=0", "?limit=1001", "?limit=ten", "?limit=-1",
    "?limit=1&limit=2", "?sort_key=host", "?sort_key=metadata",
    "?sort_dir=up", "?status=lost", "?marker=nope",
    f"?marker={A_UUID}", "?host=h1", "?name=" + "x" * 256,
])
def test_volume_list_invalid_query_answers_400(sqlite_env, query):
    create(sqlite_env)
    assert_error(sqlite_env.request("GET", "/v1/volumes" + query,
                                    headers=MEMBER), 400)


@pytest.mark.parametrize("body", [
    {"extend": {"new_size": 2}, "shrink": {}},
    {"shrink": {"new_size": 1}},
    {"extend": {}},
    {"extend": 5},
    {"extend": {"new_size": "5"}},
    {"extend": {"new_size": True}},
    {"extend": {"new_size": 16385}},
    {"extend": {"new_size": 5, "force": True}},
])
def test_volume_action_invalid_body_answers_400(sqlite_env, body):
    volume_id = create(sqlite_env)["id"]
    place(sqlite_env, volume_id)
    response = sqlite_env.request("POST", f"/v1/volumes/{volume_id}/action",
                                  body, headers=MEMBER)
    assert_error(response, 400)
    assert volume_db.get(sqlite_env.db, volume_id).status == "available"


def test_volume_extend_not_larger_answers_400(sqlite_env):
    volume_id = create(sqlite_env, size=5)["id"]
    place(sqlite_env, volume_id)
    for new_size in (5, 4):
        error = assert_error(extend(sqlite_env, volume_id, new_size), 400)
        assert "larger than the volume's size, 5 GiB" in error["message"]


@pytest.mark.parametrize("volume_id", ["nope", "1234", A_UUID + "0",
                                       A_UUID])
def test_volume_unknown_or_malformed_id_answers_404(sqlite_env, volume_id):
    assert_error(show(sqlite_env, volume_id), 404)
    assert_error(delete(sqlite_env, volume_id), 404)
    assert_error(extend(sqlite_env, volume_id, 2), 404)


def test_volume_wrong_method_answers_405(sqlite_env):
    response = sqlite_env.request("PUT", "/v1/volumes", {"volume": {}},
                                  headers=MEMBER)
    assert_error(response, 405)
    assert response.headers["Allow"] == "GET, POST"


# -- list: pagination, sorting, filters ---------------------------------


def _all_pages(env, query):
    """Follow ``next`` from ``query``; return the pages' id lists."""
    pages = []
    path = "/v1/volumes" + query
    while path:
        body = listing(env, path[len("/v1/volumes"):])
        pages.append([volume["id"] for volume in body["volumes"]])
        next_url = body.get("next")
        path = None
        if next_url:
            parts = urllib.parse.urlsplit(next_url)
            assert parts.path == "/v1/volumes"
            path = f"{parts.path}?{parts.query}"
    return pages


def test_volume_list_pages_with_limit_marker_and_next(env):
    volumes = []
    for i in range(25):
        env.clock.advance(1)
        volumes.append(create(env, size=(i % 4) + 1,
                              name=None if i % 3 else f"v{i:02d}"))

    pages = _all_pages(env, "?limit=10")
    assert [len(page) for page in pages] == [10, 10, 5]
    newest_first = [v["id"] for v in reversed(volumes)]
    assert sum(pages, []) == newest_first

    by_size = sum(_all_pages(env, "?limit=7&sort_key=size&sort_dir=asc"), [])
    assert by_size == [v["id"] for v in sorted(
        volumes, key=lambda v: (v["size"], v["id"]))]

    # Unnamed volumes must not fall between two pages.
    by_name = sum(_all_pages(env, "?limit=4&sort_key=name&sort_dir=asc"),
                  [])
    assert sorted(by_name) == sorted(v["id"] for v in volumes)
    assert len(by_name) == 25
    assert by_name[-9:] == [v["id"] for v in volumes if v["name"]]


def test_volume_list_full_last_page_links_to_an_empty_one(env):
    for _ in range(4):
        create(env)
    body = listing(env, "?limit=2&status=creating")
    assert "status=creating" in body["next"]
    pages = _all_pages(env, "?limit=2")
    assert [len(page) for page in pages] == [2, 2, 0]
    assert "next" not in listing(env, "?limit=5")


def test_volume_list_filters_by_status_name_and_host(env):
    a = create(env, name="a")["id"]
    b = create(env, name="b")["id"]
    create(env, name="a")
    place(env, a, host="h1")
    place(env, b, status="error", host="h2")

    assert [v["id"] for v in listing(env, "?status=available")
            ["volumes"]] == [a]
    assert {v["name"] for v in listing(env, "?name=a")["volumes"]} == {"a"}
    assert len(listing(env, "?name=a")["volumes"]) == 2
    assert [v["id"] for v in listing(env, "?host=h2", ADMIN)
            ["volumes"]] == [b]
    assert listing(env, "?status=error&name=a")["volumes"] == []


# -- who sees what ------------------------------------------------------


def test_volume_other_project_sees_nothing(env):
    mine = create(env)["id"]
    place(env, mine)
    theirs = create(env, OTHER)["id"]

    assert [v["id"] for v in listing(env)["volumes"]] == [mine]
    assert [v["id"] for v in listing(env, headers=OTHER)["volumes"]] == [
        theirs]
    assert_error(show(env, mine, OTHER), 404)
    assert_error(delete(env, mine, OTHER), 404)
    assert_error(extend(env, mine, 5, OTHER), 404)
    assert_error(env.request("GET", f"/v1/volumes?marker={mine}",
                             headers=OTHER), 400)
    assert volume_db.get(env.db, mine).status == "available"


def test_volume_admin_sees_every_project(env):
    mine = create(env)["id"]
    theirs = create(env, OTHER)["id"]

    assert {v["id"] for v in listing(env, headers=ADMIN)["volumes"]} == {
        mine, theirs}
    volume = show(env, theirs, ADMIN).json_body["volume"]
    assert volume["project_id"] == "p2"
    assert_error(delete(env, theirs, ADMIN), 409)  # still creating


def test_volume_policy_override_answers_403(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        '"volumes:get": "rule:admin_api"\n'
        '"volumes:create": "rule:admin_api"\n')
    env = APIEnv(tmp_path)
    try:
        assert_error(env.request("POST", "/v1/volumes",
                                 {"volume": {"size": 1}}, headers=MEMBER),
                     403)
        volume_id = create(env, ADMIN)["id"]
        volume_db.cas(env.db, volume_id, "creating", project_id="p1")
        assert_error(show(env, volume_id), 403)
        assert show(env, volume_id, ADMIN).status_code == 200
        assert [v["id"] for v in listing(env)["volumes"]] == [volume_id]
    finally:
        env.close()


# -- state: 409 and the casts of delete and extend ----------------------


@pytest.mark.parametrize("status", ["creating", "deleting", "extending"])
def test_volume_busy_answers_409(sqlite_env, status):
    volume_id = create(sqlite_env)["id"]
    if status != "creating":
        place(sqlite_env, volume_id, status=status)
    assert_error(delete(sqlite_env, volume_id), 409)
    assert_error(extend(sqlite_env, volume_id, 2), 409)
    assert volume_db.get(sqlite_env.db, volume_id).status == status


@pytest.mark.parametrize("status", ["error", "error_deleting"])
def test_volume_extend_in_error_answers_409(sqlite_env, status):
    volume_id = create(sqlite_env)["id"]
    place(sqlite_env, volume_id, status=status)
    assert_error(extend(sqlite_env, volume_id, 2), 409)


@pytest.mark.parametrize("status", ["available", "error", "error_deleting"])
def test_volume_delete_swaps_to_deleting_then_casts_to_host(
        sqlite_env, recorder, status):
    volume_id = create(sqlite_env)["id"]
    place(sqlite_env, volume_id, status=status)

    assert delete(sqlite_env, volume_id).status_code == 202

    cast = wait_for(lambda: [c for c in recorder.casts
                             if c[0] == "delete_volume"], "the delete cast")
    assert cast == [("delete_volume", {"volume_id": volume_id},
                     ("deleting", "h1"))]
    assert_error(delete(sqlite_env, volume_id), 409)


def test_volume_extend_swaps_to_extending_then_casts_to_host(
        sqlite_env, recorder):
    volume_id = create(sqlite_env, size=2)["id"]
    place(sqlite_env, volume_id)

    assert extend(sqlite_env, volume_id, 8).status_code == 202

    cast = wait_for(lambda: [c for c in recorder.casts
                             if c[0] == "extend_volume"], "the extend cast")
    assert cast == [("extend_volume", {"volume_id": volume_id,
                                       "new_size": 8}, ("extending", "h1"))]
    assert volume_db.get(sqlite_env.db, volume_id).size == 2


# -- broker down --------------------------------------------------------


@pytest.fixture
def down_env(tmp_path):
    """The API on a broker nobody listens on, retrying no reconnection."""
    env = APIEnv(tmp_path, transport_url="rabbit://guest:guest@127.0.0.1:1/")
    env.conf.set_override("rpc_client_retry", 0)
    env.conf.set_override("rpc_response_timeout", 1)
    env.app = factories.load_app(PASTE_INI, "main", env.deps)
    yield env
    env.close()


def test_volume_create_with_broker_down_answers_503_and_errors_row(
        down_env):
    response = down_env.request("POST", "/v1/volumes",
                                {"volume": {"size": 1}}, headers=MEMBER)

    assert "unavailable" in assert_error(response, 503)["message"]
    [volume] = listing(down_env)["volumes"]
    assert volume["status"] == "error"
    assert volume["host"] is None
    assert volume["fault"] == ("create failed: the message bus is "
                               "unavailable")
    # Never placed: deleting it needs no broker.
    assert delete(down_env, volume["id"]).status_code == 202
    assert listing(down_env)["volumes"] == []


def test_volume_delete_and_extend_with_broker_down_undo_the_swap(down_env):
    volume_id = str(uuid.uuid4())
    volume_db.create(down_env.db, id=volume_id, size=2, status="available",
                     host="h1", project_id="p1", user_id="bob",
                     name="")

    assert_error(delete(down_env, volume_id), 503)
    row = volume_db.get(down_env.db, volume_id)
    assert (row.status, row.fault) == (
        "available", "delete failed: the message bus is unavailable")

    assert_error(extend(down_env, volume_id, 4), 503)
    row = volume_db.get(down_env.db, volume_id)
    assert (row.status, row.size, row.fault) == (
        "available", 2, "extend failed: the message bus is unavailable")


def test_volume_create_integral_number_is_an_integer(sqlite_env):
    # JSON Schema 2020-12 (the OpenAPI 3.1 document): 2.0 is the integer 2.
    assert create(sqlite_env, size=2.0)["size"] == 2


# -- load shedding --------------------------------------------------------


def _shedding(tmp_path, **api_options):
    """The API loaded with these [api] options; no worker takes what it
    accepts, so every row stays creating."""
    env = APIEnv(tmp_path)
    for name, value in api_options.items():
        env.conf.set_override(name, value, group="api")
    env.app = factories.load_app(PASTE_INI, "main", env.deps)
    return env


@pytest.fixture
def shedding_env(tmp_path):
    """Room for 3 volumes in creating."""
    env = _shedding(tmp_path, max_creating=3, admission_refresh_interval=60)
    yield env
    env.close()


@pytest.fixture
def late_env(tmp_path):
    """Creates that wait more than 5 s are shed."""
    env = _shedding(tmp_path, max_create_wait=5,
                    admission_refresh_interval=0.1)
    yield env
    env.close()


def test_volume_create_while_creates_wait_past_the_bound_answers_503(
        late_env):
    # A burst of 10: none is done 6 s later.
    accepted = [create(late_env)["id"] for _ in range(10)]
    late_env.clock.advance(6)
    time.sleep(0.15)  # the admission's next read (its own monotonic clock)

    response = late_env.request("POST", "/v1/volumes", {"volume": {"size": 1}},
                                headers=MEMBER)

    error = assert_error(response, 503)
    assert error["message"] == ("Creates of volumes take longer than 5 s "
                                "(the bound); try again in 1 s.")
    assert response.headers["Retry-After"] == "1"
    listed = listing(late_env, headers=ADMIN)["volumes"]
    assert sorted(v["id"] for v in listed) == sorted(accepted)
    # Rows left creating for more than twice the bound and 10 s are
    # stuck, not a queue (a dead host): they stop shedding creates.
    late_env.clock.advance(15)
    time.sleep(0.15)
    assert create(late_env)["status"] == "creating"


def test_volume_create_over_the_backlog_bound_answers_503_retry_after(
        shedding_env):
    accepted = [create(shedding_env)["id"] for _ in range(3)]
    rejected = [shedding_env.request("POST", "/v1/volumes",
                                     {"volume": {"size": 1}},
                                     headers=MEMBER) for _ in range(5)]

    for response in rejected:
        error = assert_error(response, 503)
        assert "3 volumes are being created already" in error["message"]
        assert response.headers["Retry-After"] == "60"
    # Nothing refused left a row; what was accepted is there, creating.
    listed = listing(shedding_env, headers=ADMIN)["volumes"]
    assert sorted(v["id"] for v in listed) == sorted(accepted)
    assert {v["status"] for v in listed} == {"creating"}
    # Reads and other writes are not shed.
    assert shedding_env.request("GET", "/v1/volumes",
                                headers=MEMBER).status_code == 200
