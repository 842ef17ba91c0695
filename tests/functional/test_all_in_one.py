"""``api-server --all-in-one`` as a new user runs it: a real process, no
config file, driven over HTTP.

Each test starts the binary with ``HOME`` pointed at its tmp_path, so the
default ``state_path`` (``~/.local/state/capstan``) is a fresh directory
and no config file exists anywhere it could be read from. The port is
``OS_API__BIND_PORT=0`` (oslo.config's environment source, not a file):
the server binds a free port itself and the test reads the URL from the
"listening on" line, so no port is picked by the test and raced for.
Options a test needs otherwise come the same way (``OS_<GROUP>__<OPT>``).

Every wait polls with a generous deadline; no test asserts a duration.
The process runs in its own session and teardown SIGKILLs its group.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import re
import signal
import socket
import sqlite3
import subprocess
import sys

import pytest
import requests

from tests.integration.procs import children_of, wait_until

pytestmark = pytest.mark.timeout(180)

BIN = pathlib.Path(sys.executable).parent / "api-server"
DEFAULT_PORT = 8780
DEADLINE = 60.0
HTTP_TIMEOUT = 30
LISTENING = r"all-in-one listening on (http://\S+)"
TOKEN_LINE = r"admin token \(shown once, stored hashed in \S+\): (\S+)"
GiB = 1024 ** 3

DEMO = {"X-User-Id": "demo", "X-Project-Id": "demo"}
ADMIN = {**DEMO, "X-Roles": "admin"}


def child_env(home: pathlib.Path, **options: str) -> dict[str, str]:
    """The environment of a first-time user whose home is ``home``.

    Any OS_* (oslo.config) variable of the caller is dropped, so options
    come from the defaults and ``options`` only.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("OS_")}
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", **options)
    return env


class AllInOne:
    """One ``api-server --all-in-one`` process and its captured output."""

    def __init__(self, home: pathlib.Path, *, log_name: str = "aio.log",
                 **options: str) -> None:
        self.home = home
        self.state_path = home / ".local" / "state" / "capstan"
        self.log_path = home / log_name
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(
            [str(BIN), "--all-in-one"], stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT,
            env=child_env(home, **options), cwd=str(home),
            start_new_session=True)
        self.url: str | None = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self) -> str:
        return "--- log ---\n" + "\n".join(self.log().splitlines()[-40:])

    def wait_ready(self) -> str:
        """Wait for the "listening on" line; return the URL it names."""
        def ready():
            match = re.search(LISTENING, self.log())
            if match:
                return match.group(1)
            if self.popen.poll() is not None:
                raise AssertionError(f"exited with {self.popen.returncode} "
                                     f"before listening\n{self.tail()}")
            return None

        self.url = wait_until(ready, what="the listening line",
                              timeout=DEADLINE, diagnose=self.tail)
        return self.url

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=HTTP_TIMEOUT, **kwargs)

    def request(self, method: str, path: str, headers: dict,
                **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, headers=headers,
                                timeout=HTTP_TIMEOUT, **kwargs)

    def stop(self, signo: int = signal.SIGTERM) -> int:
        self.popen.send_signal(signo)
        try:
            return self.popen.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {signo!r}\n"
                                 f"{self.tail()}") from None

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


@pytest.fixture
def start(tmp_path):
    """start(**options) -> a started AllInOne; all are killed afterwards."""
    started: list[AllInOne] = []

    def _start(**options: str) -> AllInOne:
        aio = AllInOne(tmp_path, log_name=f"aio-{len(started)}.log",
                       **options)
        started.append(aio)
        return aio

    yield _start
    for aio in started:
        aio.kill()


@pytest.fixture
def aio(start):
    """A ready all-in-one on a free port, no config file, noauth."""
    server = start(OS_API__BIND_PORT="0")
    server.wait_ready()
    return server


ALL_UP = {"api": "up", "scheduler": "up", "volume": "up"}


def service_states(aio: AllInOne, headers: dict = ADMIN) -> dict[str, str]:
    response = aio.request("GET", "/v1/services", headers)
    assert response.status_code == 200, response.text
    return {s["topic"]: s["state"] for s in response.json()["services"]}


def all_three_up(aio: AllInOne, headers: dict = ADMIN) -> None:
    wait_until(lambda: service_states(aio, headers) == ALL_UP,
               what="api, scheduler and volume up", timeout=DEADLINE,
               diagnose=aio.tail)


def stopped_records(state_path: pathlib.Path) -> dict[str, str]:
    with sqlite3.connect(state_path / "capstan.sqlite") as db:
        rows = db.execute("SELECT topic, state FROM services "
                          "WHERE deleted_at IS NULL").fetchall()
    return dict(rows)


# -- a first start, no config file ------------------------------------


def test_all_in_one_serves_the_api_a_scheduler_and_a_volume_worker(aio):
    assert aio.url.startswith("http://127.0.0.1:")
    # It made state_path, synced the schema and set up the volume pool.
    assert (aio.state_path / "capstan.sqlite").is_file()
    assert (aio.state_path / "volumes").is_dir()
    assert aio.get("/").status_code == 200
    health = aio.get("/healthcheck")
    assert health.status_code == 200, health.text
    all_three_up(aio)
    assert not children_of(aio.popen.pid)  # one process: nothing forked


def test_all_in_one_says_how_to_call_it_on_one_line(aio):
    lines = [line for line in aio.log().splitlines()
             if re.search(LISTENING, line)]
    assert len(lines) == 1
    assert "X-User-Id" in lines[0] and "X-Project-Id" in lines[0]
    assert f"curl -H 'X-User-Id: demo' -H 'X-Project-Id: demo' " \
           f"{aio.url}/v1/volumes" in lines[0]


def test_all_in_one_noauth_still_needs_an_identity(aio):
    response = aio.request("GET", "/v1/services", {})
    assert response.status_code == 401
    response = aio.request("GET", "/v1/services", DEMO)
    assert response.status_code == 403  # services are admin only


def test_all_in_one_sigterm_stops_all_three_and_exits_0(aio):
    all_three_up(aio)
    assert aio.stop(signal.SIGTERM) == 0
    assert stopped_records(aio.state_path) == {
        "api": "stopped", "scheduler": "stopped", "volume": "stopped"}


def test_all_in_one_sigint_exits_0(aio):
    all_three_up(aio)
    assert aio.stop(signal.SIGINT) == 0


def test_all_in_one_starts_again_on_the_same_state(start):
    first = start(OS_API__BIND_PORT="0")
    first.wait_ready()
    assert first.stop() == 0
    second = start(OS_API__BIND_PORT="0")
    second.wait_ready()
    all_three_up(second)
    assert "database schema upgraded" not in second.log()
    assert second.stop() == 0


def test_all_in_one_on_the_default_port_with_nothing_set(start):
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", DEFAULT_PORT))
    except OSError:
        pytest.skip(f"port {DEFAULT_PORT} is in use on this machine")
    finally:
        probe.close()
    aio = start()
    url = aio.wait_ready()
    assert url == f"http://127.0.0.1:{DEFAULT_PORT}"
    all_three_up(aio)
    assert aio.stop() == 0


# -- the curl flow of the README ---------------------------------------


def volume_of(aio: AllInOne, volume_id: str) -> dict:
    response = aio.request("GET", f"/v1/volumes/{volume_id}", DEMO)
    assert response.status_code == 200, response.text
    return response.json()["volume"]


def wait_status(aio: AllInOne, volume_id: str, status: str) -> dict:
    def reached():
        volume = volume_of(aio, volume_id)
        if volume["status"] == "error":
            raise AssertionError(f"volume went to error: {volume}")
        return volume if volume["status"] == status else None

    return wait_until(reached, what=f"volume {volume_id} {status}",
                      timeout=DEADLINE, diagnose=aio.tail)


def test_all_in_one_volume_create_list_extend_delete(aio):
    response = aio.request("POST", "/v1/volumes", DEMO,
                           json={"volume": {"size": 1, "name": "first"}})
    assert response.status_code == 202, response.text
    volume_id = response.json()["volume"]["id"]

    volume = wait_status(aio, volume_id, "available")
    assert volume["size"] == 1
    backing = aio.state_path / "volumes" / f"{volume_id}.img"
    assert backing.stat().st_size == 1 * GiB

    listed = aio.request("GET", "/v1/volumes", DEMO)
    assert listed.status_code == 200, listed.text
    assert [v["id"] for v in listed.json()["volumes"]] == [volume_id]

    response = aio.request("POST", f"/v1/volumes/{volume_id}/action", DEMO,
                           json={"extend": {"new_size": 3}})
    assert response.status_code == 202, response.text
    volume = wait_status(aio, volume_id, "available")
    assert volume["size"] == 3
    assert backing.stat().st_size == 3 * GiB

    response = aio.request("DELETE", f"/v1/volumes/{volume_id}", DEMO)
    assert response.status_code == 202, response.text
    wait_until(lambda: aio.request("GET", f"/v1/volumes/{volume_id}",
                                   DEMO).status_code == 404,
               what="the volume gone", timeout=DEADLINE, diagnose=aio.tail)
    assert not backing.exists()
    assert aio.stop() == 0


def test_all_in_one_reports_its_pool_to_the_scheduler(aio):
    def pools():
        response = aio.request("GET", "/v1/scheduler-stats/pools", ADMIN)
        assert response.status_code == 200, response.text
        return response.json()["pools"]

    found = wait_until(pools, what="one pool", timeout=DEADLINE,
                       diagnose=aio.tail)
    assert [pool["capabilities"]["driver"] for pool in found] == ["file"]


# -- authentication and the options all-in-one adjusts ------------------


def test_all_in_one_refuses_noauth_beyond_loopback(tmp_path):
    result = subprocess.run(
        [str(BIN), "--all-in-one"], stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=DEADLINE, cwd=str(tmp_path),
        env=child_env(tmp_path, OS_API__BIND_HOST="0.0.0.0",
                      OS_API__BIND_PORT="0", OS_API__AUTH_STRATEGY="noauth"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "api-server: --all-in-one refuses [api] auth_strategy = noauth on "
        "bind_host 0.0.0.0")
    assert not (tmp_path / ".local" / "state" / "capstan").exists()


def test_all_in_one_with_token_auth_prints_an_admin_token_once(start):
    aio = start(OS_API__BIND_PORT="0", OS_API__AUTH_STRATEGY="token")
    aio.wait_ready()
    tokens = re.findall(TOKEN_LINE, aio.log())
    assert len(tokens) == 1
    token = tokens[0]
    # Printed once, logged nowhere else; only its hash is on disk.
    assert aio.log().count(token) == 1
    token_file = aio.state_path / "tokens"
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert token_file.read_text() == f"{digest} admin admin admin\n"
    assert token_file.stat().st_mode & 0o777 == 0o600
    all_three_up(aio, {"X-Auth-Token": token})
    assert aio.request("GET", "/v1/services", ADMIN).status_code == 401
    assert aio.stop() == 0

    again = start(OS_API__BIND_PORT="0", OS_API__AUTH_STRATEGY="token")
    again.wait_ready()
    assert not re.findall(TOKEN_LINE, again.log())
    all_three_up(again, {"X-Auth-Token": token})
    assert again.stop() == 0


def test_all_in_one_runs_one_process_whatever_api_workers_says(start):
    aio = start(OS_API__BIND_PORT="0", OS_API__API_WORKERS="3")
    aio.wait_ready()
    assert "ignoring [api] api_workers = 3" in aio.log()
    all_three_up(aio)
    assert aio.stop() == 0


# -- over a real broker --------------------------------------------------


def test_all_in_one_over_rabbitmq(start, rabbit_url):
    aio = start(OS_API__BIND_PORT="0", OS_DEFAULT__TRANSPORT_URL=rabbit_url)
    aio.wait_ready()
    all_three_up(aio)
    response = aio.request("POST", "/v1/volumes", DEMO,
                           json={"volume": {"size": 1}})
    assert response.status_code == 202, response.text
    wait_status(aio, response.json()["volume"]["id"], "available")
    assert aio.stop() == 0
