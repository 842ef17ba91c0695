"""Security under token auth: identity, isolation, secrets and RPC surface.

How to run::

    CAPSTAN_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1/test \\
    CAPSTAN_TEST_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/ \\
        /work/venv/bin/python -m pytest tests/integration/test_security.py

One ``api-server`` (token auth), a scheduler and a volume worker (fake
driver), all at ``debug = true`` so that even debug logging is checked for
tokens, on a fresh PostgreSQL database and RabbitMQ vhost for the module
(tests/integration/live_api.py). Tokens, made by ``capstan-manage token
create``: an admin (project ``ops``), alice (member of ``proj-a``) and bob
(member of ``proj-b``).

* Identity comes from the token only: headers claiming another user,
  project or role (``X-Roles: admin``, ``X-Project-Id``, keystone-style
  ``X-Tenant-Id``, ``X-Is-Admin-Project`` ...) change nothing.
* A project's volumes are invisible to another project: 404 on show,
  delete and extend, absent from lists, unusable as a marker or a
  scheduler hint; nothing happens to them.
* Members get 403 on services and scheduler stats.
* The token file holds sha256 digests only; no process logs a token, a
  wrong one included.
* Over RPC only ``@rpc.expose``d manager methods are callable: every other
  public method (hooks, periodic tasks) and every private one is refused
  with NoSuchMethod by the real workers.
"""
from __future__ import annotations

import hashlib
import inspect
import secrets

import oslo_messaging as messaging
import pytest
import requests

from capstan.common import config, context, rpc
from tests.integration import procs
from tests.integration.live_api import live_api
from capstan_volumes.scheduler import rpcapi as scheduler_rpcapi
from capstan_volumes.scheduler.manager import SchedulerManager
from capstan_volumes.volume import rpcapi as volume_rpcapi
from capstan_volumes.volume.manager import VolumeManager

pytestmark = pytest.mark.timeout(300)

HTTP_TIMEOUT = 60
# Every header a client could use to claim an identity.
FORGED_ADMIN = {
    "X-User-Id": "root", "X-User": "root", "X-User-Name": "root",
    "X-Project-Id": "ops", "X-Project-Name": "ops", "X-Tenant-Id": "ops",
    "X-Tenant": "ops", "X-Roles": "admin", "X-Role": "admin",
    "X-Is-Admin": "true", "X-Is-Admin-Project": "True",
    "X-Identity-Status": "Confirmed", "X-Service-Roles": "admin",
    "X-Domain-Id": "default",
}
# The methods each manager deliberately serves over RPC.
EXPOSED = {
    VolumeManager: {"create_volume", "delete_volume", "extend_volume",
                    "create_snapshot", "delete_snapshot",
                    "publish_service_capabilities"},
    SchedulerManager: {"create_volume", "get_pools", "sync_volume_info",
                       "update_aggregates", "update_service_capabilities"},
}
TOPICS = {VolumeManager: volume_rpcapi.TOPIC,
          SchedulerManager: scheduler_rpcapi.TOPIC}
PRIVATE = ("_own_volume", "_refresh_capabilities", "__init__",
           "__getattribute__", "__class__")


class Client:
    """REST calls as one token's holder."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token

    def __call__(self, method: str, path: str, *, headers=None,
                 **kwargs) -> requests.Response:
        sent = {"X-Auth-Token": self.token, "Connection": "close",
                **(headers or {})}
        return requests.request(method, self.base_url + path, headers=sent,
                                timeout=HTTP_TIMEOUT, **kwargs)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_api(tmp_path_factory.mktemp("security"), debug=True) as api:
        api.tokens = {
            "admin": api.create_token("root", "ops", "admin"),
            "alice": api.create_token("alice", "proj-a", "member"),
            "bob": api.create_token("bob", "proj-b", "member"),
        }
        api.start(worker_topics=("scheduler", "volume"))
        api.as_ = {name: Client(api.base_url, token)
                   for name, token in api.tokens.items()}
        yield api


@pytest.fixture(scope="module")
def alice_volume(live):
    """An ``available`` volume of proj-a."""
    response = live.as_["alice"]("POST", "/v1/volumes",
                                 json={"volume": {"size": 1,
                                                  "name": "private"}})
    assert response.status_code == 202, response.text
    volume_id = response.json()["volume"]["id"]
    _wait_for_status(live, volume_id, "available")
    return volume_id


def _wait_for_status(live, volume_id: str, status: str) -> dict:
    def reached():
        response = live.as_["admin"]("GET", f"/v1/volumes/{volume_id}")
        assert response.status_code == 200, response.text
        volume = response.json()["volume"]
        return volume if volume["status"] == status else None

    return procs.wait_until(reached, what=f"volume {volume_id} {status}",
                            diagnose=lambda: live.api.log_tail(30))


def _assert_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    assert error["request_id"] == response.headers["x-openstack-request-id"]


# -- forged identity headers --------------------------------------------------

@pytest.mark.parametrize("method, path, body", [
    ("GET", "/v1/services", None),
    ("PUT", "/v1/services/1", {"status": "disabled"}),
    ("DELETE", "/v1/services/1", None),
    ("GET", "/v1/scheduler-stats/pools", None),
])
def test_security_member_forging_admin_headers_gets_403(live, method, path,
                                                        body):
    response = live.as_["bob"](method, path, headers=FORGED_ADMIN,
                               json=body)

    _assert_error(response, 403)


def test_security_forged_headers_leave_services_untouched(live):
    before = live.as_["admin"]("GET", "/v1/services").json()["services"]
    for service in before:
        live.as_["bob"]("PUT", f"/v1/services/{service['id']}",
                        headers=FORGED_ADMIN, json={"forced_down": True})
        live.as_["bob"]("DELETE", f"/v1/services/{service['id']}",
                        headers=FORGED_ADMIN)

    after = live.as_["admin"]("GET", "/v1/services").json()["services"]
    assert {s["id"]: (s["status"], s["forced_down"]) for s in after} == \
        {s["id"]: (s["status"], s["forced_down"]) for s in before}


def test_security_forged_project_does_not_show_its_volumes(live,
                                                           alice_volume):
    forged = dict(FORGED_ADMIN, **{"X-Project-Id": "proj-a",
                                   "X-Tenant-Id": "proj-a",
                                   "X-User-Id": "alice", "X-Roles": "member"})
    bob = live.as_["bob"]

    listed = bob("GET", "/v1/volumes", headers=forged)
    shown = bob("GET", f"/v1/volumes/{alice_volume}", headers=forged)
    plain = bob("GET", "/v1/volumes")

    assert listed.status_code == 200, listed.text
    assert alice_volume not in {v["id"] for v in listed.json()["volumes"]}
    assert listed.json() == plain.json()
    _assert_error(shown, 404)


def test_security_forged_admin_does_not_see_every_project(live,
                                                          alice_volume):
    listed = live.as_["bob"]("GET", "/v1/volumes", headers=FORGED_ADMIN)

    assert listed.status_code == 200, listed.text
    assert all(v["project_id"] == "proj-b"
               for v in listed.json()["volumes"])


def test_security_volumes_created_with_forged_headers_belong_to_the_token(
        live):
    response = live.as_["bob"]("POST", "/v1/volumes", headers=FORGED_ADMIN,
                               json={"volume": {"size": 1}})

    assert response.status_code == 202, response.text
    volume = response.json()["volume"]
    assert (volume["project_id"], volume["user_id"]) == ("proj-b", "bob")


# -- project isolation -----------------------------------------------------

@pytest.mark.parametrize("method, suffix, body", [
    ("GET", "", None),
    ("DELETE", "", None),
    ("POST", "/action", {"extend": {"new_size": 2}}),
])
def test_security_other_projects_volume_answers_404(live, alice_volume,
                                                    method, suffix, body):
    response = live.as_["bob"](method, f"/v1/volumes/{alice_volume}{suffix}",
                               json=body)

    _assert_error(response, 404)
    # Nothing happened to it.
    volume = live.as_["admin"]("GET", f"/v1/volumes/{alice_volume}").json()
    assert (volume["volume"]["status"], volume["volume"]["size"]) == (
        "available", 1)


def test_security_other_projects_volume_is_absent_from_lists(live,
                                                             alice_volume):
    for query in ("", "?name=private", "?status=available",
                  "?sort_key=name&sort_dir=asc&limit=1000"):
        listed = live.as_["bob"]("GET", f"/v1/volumes{query}")
        assert listed.status_code == 200, listed.text
        assert alice_volume not in {v["id"]
                                    for v in listed.json()["volumes"]}
    own = live.as_["alice"]("GET", "/v1/volumes").json()["volumes"]
    everyone = live.as_["admin"]("GET", "/v1/volumes").json()["volumes"]
    assert alice_volume in {v["id"] for v in own}
    assert alice_volume in {v["id"] for v in everyone}


def test_security_other_projects_volume_is_no_marker_or_hint(live,
                                                             alice_volume):
    bob = live.as_["bob"]
    marker = bob("GET", f"/v1/volumes?marker={alice_volume}")
    hinted = bob("POST", "/v1/volumes", json={"volume": {
        "size": 1, "scheduler_hints": {"same_host": [alice_volume]}}})

    _assert_error(marker, 400)
    _assert_error(hinted, 400)


def test_security_members_cannot_filter_by_host(live, alice_volume):
    _assert_error(live.as_["alice"]("GET", "/v1/volumes?host=live"), 400)


@pytest.mark.parametrize("member", ["alice", "bob"])
@pytest.mark.parametrize("method, path, body", [
    ("GET", "/v1/services", None),
    ("PUT", "/v1/services/1", {"status": "disabled"}),
    ("DELETE", "/v1/services/1", None),
    ("GET", "/v1/scheduler-stats/pools", None),
])
def test_security_members_get_403_on_admin_apis(live, member, method, path,
                                                body):
    _assert_error(live.as_[member](method, path, json=body), 403)


def test_security_admin_reaches_admin_apis(live):
    # The control of the two tests above.
    assert live.as_["admin"]("GET", "/v1/services").status_code == 200
    pools = live.as_["admin"]("GET", "/v1/scheduler-stats/pools")
    assert pools.status_code == 200, pools.text


# -- tokens -----------------------------------------------------------------

def test_security_token_file_holds_only_digests(live):
    text = live.token_file.read_text(encoding="utf-8")
    digests = {line.split()[0] for line in text.splitlines()
               if line.strip()}

    assert digests == {hashlib.sha256(token.encode()).hexdigest()
                       for token in live.tokens.values()}
    for token in live.tokens.values():
        assert token not in text
        assert token[:12] not in text


def test_security_tokens_are_never_logged(live, alice_volume):
    wrong = secrets.token_urlsafe(32)
    for client in live.as_.values():
        client("GET", "/v1/volumes")
        client("GET", "/v1/services")
    unauthorized = requests.get(f"{live.base_url}/v1/volumes",
                                headers={"X-Auth-Token": wrong},
                                timeout=HTTP_TIMEOUT)
    _assert_error(unauthorized, 401)
    live.api.wait_for_log(r"rejected an unknown token")

    logs = live.all_logs()
    assert " DEBUG " in logs  # the check covers debug logging too
    for token in (*live.tokens.values(), wrong):
        assert token not in logs
        assert token[:12] not in logs


# -- RPC surface -------------------------------------------------------------

def _public_methods(cls: type) -> set[str]:
    return {name for name, member in inspect.getmembers(cls, callable)
            if not name.startswith("_") and not inspect.isclass(member)}


def _exposed_methods(cls: type) -> set[str]:
    return {name for name in _public_methods(cls)
            if getattr(getattr(cls, name), "exposed", False)}


@pytest.mark.parametrize("manager", [VolumeManager, SchedulerManager],
                         ids=lambda cls: cls.__name__)
def test_security_managers_expose_only_the_rpc_api(manager):
    assert _exposed_methods(manager) == EXPOSED[manager]


@pytest.fixture(scope="module")
def rpc_client(live):
    """Call any method of a real worker, by topic, with a finite retry."""
    conf = config.make_conf()
    conf(["--config-file", live.config_file])
    transport = rpc.get_transport(conf)
    clients = {topic: rpc.get_client(
        transport, messaging.Target(topic=topic, server="live",
                                    version="1.0"),
        retry=3, timeout=30) for topic in TOPICS.values()}
    yield clients
    transport.cleanup()


@pytest.mark.parametrize("manager", [VolumeManager, SchedulerManager],
                         ids=lambda cls: cls.__name__)
def test_security_rpc_refuses_every_method_not_exposed(live, rpc_client,
                                                       manager):
    client = rpc_client[TOPICS[manager]]
    ctxt = context.get_admin_context()
    refused = sorted(_public_methods(manager) - EXPOSED[manager]) + \
        list(PRIVATE)
    assert {"init_host", "periodic_tasks", "reset"} <= set(refused)

    for method in refused:
        with pytest.raises(messaging.RemoteError) as info:
            client.call(ctxt, method, service_id=1)
        assert info.value.exc_type == "NoSuchMethod", (method, info.value)
    live.assert_running()


def test_security_rpc_serves_an_exposed_method(live, rpc_client):
    # The control: the same client reaches an exposed method.
    pools = rpc_client[scheduler_rpcapi.TOPIC].call(
        context.get_admin_context(), "get_pools")
    assert [pool["host"] for pool in pools] == ["live"]
