"""Integration tier for the ``api-server`` binary: real processes over HTTP.

How to run::

    CAPSTAN_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1/test \\
    CAPSTAN_TEST_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/ \\
        /work/venv/bin/python -m pytest tests/integration/test_api_server.py -v

Each backend test gets a fresh PostgreSQL database and RabbitMQ vhost
(tests/backends.py), writes a config file in its tmp_path, runs
``capstan-manage db sync`` and ``capstan-manage token create`` on it, and
starts ``api-server`` (with ``bind_port = 0``: the test reads the port from
the "listening on" log line) and, where needed, ``worker --topic volume``
with the fake driver. Logs stay in tmp_path. Every wait polls with a
deadline; no test asserts how long anything took. Teardown SIGKILLs the
process group of every process a test started. The exit-code tests need no
backend: they run on SQLite and fake://.
"""
from __future__ import annotations

import pathlib
import re
import signal
import socket
import threading
import uuid

import pytest
import requests

from capstan.common.wsgi_service import SOURCE_ETC
from tests.integration import procs

pytestmark = pytest.mark.timeout(120)

HTTP_TIMEOUT = 60
LISTENING = r"listening on (http://\S+)"


class ApiEnv:
    """One test's config file, token and processes."""

    def __init__(self, tmp_path, db_url: str, transport_url: str) -> None:
        self.tmp_path = tmp_path
        self.db_url = db_url
        self.transport_url = transport_url
        self.host = f"itest-{uuid.uuid4().hex[:8]}"
        self.procs = procs.ProcGroup(tmp_path)
        self.token: str | None = None

    def write_config(self, api: dict | None = None, **defaults) -> str:
        """Write capstan.conf; ``api`` and ``defaults`` override options."""
        values = {
            "host": self.host,
            "transport_url": self.transport_url,
            "state_path": self.tmp_path / "state",
            "report_interval": 1,
            "service_down_time": 10,
            "periodic_interval": 1,
            "periodic_fuzzy_delay": 0,
            "graceful_shutdown_timeout": 30,
            "volume_driver": "fake",
        }
        values.update(defaults)
        api_values = {"bind_host": "127.0.0.1", "bind_port": 0,
                      "auth_strategy": "token",
                      "token_file": self.tmp_path / "tokens"}
        api_values.update(api or {})
        path = self.tmp_path / "capstan.conf"
        procs.write_config(path, {"DEFAULT": values,
                                  "database": {"connection": self.db_url},
                                  "api": api_values})
        return str(path)

    def prepare(self, config_file: str) -> None:
        """db sync, and an admin token for the requests."""
        result = procs.run("capstan-manage",
                           ["--config-file", config_file, "db", "sync"])
        assert result.returncode == 0, result.stderr
        result = procs.run("capstan-manage", [
            "--config-file", config_file, "token", "create", "--user",
            "admin", "--project", "admin", "--roles", "admin"])
        assert result.returncode == 0, result.stderr
        self.token = result.stdout.strip()

    def start_api(self, config_file: str) -> tuple[procs.Proc, str]:
        """Start api-server; return it and its base URL once it listens."""
        proc = self.procs.start("api-server", ["--config-file", config_file])
        line = proc.wait_for_log(LISTENING)[0]
        return proc, re.search(LISTENING, line).group(1)

    def start_volume_worker(self, config_file: str) -> procs.Proc:
        proc = self.procs.start("worker", ["--topic", "volume",
                                           "--config-file", config_file])
        proc.wait_for_log(r"started, consuming volume\.")
        return proc

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        headers = {"X-Auth-Token": self.token, "Connection": "close"}
        return requests.request(method, url, headers=headers,
                                timeout=HTTP_TIMEOUT, **kwargs)

    def services(self, base_url: str) -> dict[str, dict]:
        """GET /v1/services, keyed by topic."""
        response = self.request("GET", f"{base_url}/v1/services")
        assert response.status_code == 200, response.text
        return {s["topic"]: s for s in response.json()["services"]}


@pytest.fixture
def backend_env(tmp_path, pg_url, rabbit_url):
    env = ApiEnv(tmp_path, pg_url, rabbit_url)
    yield env
    env.procs.cleanup()


@pytest.fixture
def local_env(tmp_path):
    """SQLite and fake://: for the tests that need no real backend."""
    env = ApiEnv(tmp_path, f"sqlite:///{tmp_path}/capstan.sqlite", "fake://")
    yield env
    env.procs.cleanup()


def _stop(proc: procs.Proc) -> int:
    proc.signal(signal.SIGTERM)
    return proc.wait()


# -- over HTTP, on PostgreSQL and RabbitMQ ----------------------------------

def test_api_server_lists_and_disables_services(backend_env):
    env = backend_env
    config_file = env.write_config()
    env.prepare(config_file)
    worker = env.start_volume_worker(config_file)
    api, base_url = env.start_api(config_file)

    def both_up():
        services = env.services(base_url)
        if {"api", "volume"} <= services.keys() and all(
                services[t]["state"] == "up" for t in ("api", "volume")):
            return services
        return None

    services = procs.wait_until(both_up, what="api and volume services up",
                                diagnose=api.log_tail)
    assert services["api"]["binary"] == "api-server"
    assert services["api"]["host"] == env.host
    assert services["volume"]["status"] == "enabled"

    volume_id = services["volume"]["id"]
    response = env.request(
        "PUT", f"{base_url}/v1/services/{volume_id}",
        json={"status": "disabled", "disabled_reason": "disk swap"})
    assert response.status_code == 200, response.text
    assert response.json()["service"]["status"] == "disabled"

    volume = env.services(base_url)["volume"]
    assert (volume["status"], volume["disabled_reason"], volume["state"]) \
        == ("disabled", "disk swap", "up")

    assert _stop(api) == 0
    assert _stop(worker) == 0


def test_api_server_workers_share_the_socket_and_stop_on_sigterm(
        backend_env):
    env = backend_env
    config_file = env.write_config(api={"api_workers": 2})
    env.prepare(config_file)
    api, base_url = env.start_api(config_file)
    # Each worker builds its own app and service after the fork.
    api.wait_for_log(r"main: serving on", count=2)
    assert len(api.children()) == 2
    for _ in range(6):
        assert env.services(base_url)["api"]["state"] == "up"
    assert _stop(api) == 0
    assert api.children() == set()


def test_api_server_sigterm_lets_a_slow_request_finish(backend_env,
                                                       tmp_path):
    env = backend_env
    gate = tmp_path / "gate"
    gate.mkdir()
    # The real file, plus a test app under /slow that holds requests.
    # NOTE: a copy, not "config:<real file>#main": PasteDeploy would copy
    # the APIDeps object into the other file's ini defaults, as a string.
    real = (pathlib.Path(SOURCE_ETC) / "api-paste.ini").read_text()
    assert "\n/v1 = v1\n" in real
    paste = tmp_path / "slow-paste.ini"
    slow_app = ("\n[app:slow]\n"
                "paste.app_factory = tests.integration.apps:gated_app_factory\n"
                f"gate_dir = {gate}\n")
    paste.write_text(real.replace("\n/v1 = v1\n",
                                  "\n/v1 = v1\n/slow = slow\n") + slow_app)
    config_file = env.write_config(api={"paste_config": paste})
    env.prepare(config_file)
    api, base_url = env.start_api(config_file)
    assert env.services(base_url)["api"]["binary"] == "api-server"

    result = {}
    client = threading.Thread(target=lambda: result.update(
        response=env.request("GET", f"{base_url}/slow")))
    client.start()
    procs.wait_until((gate / "entered").exists, what="the slow request")
    api.signal(signal.SIGTERM)
    api.wait_for_log(r"caught SIGTERM")
    assert api.running()  # held by the request in flight
    (gate / "release").touch()
    client.join(HTTP_TIMEOUT)
    assert (result["response"].status_code, result["response"].text) == (
        200, "released")
    assert api.wait() == 0


# -- exit codes, on SQLite and fake:// ---------------------------------------

def _run_api(config_file: str):
    return procs.run("api-server", ["--config-file", config_file])


def _assert_one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("api-server: ")
    return lines[0]


def test_api_server_bad_config_value_exits_2(local_env):
    config_file = local_env.write_config(api={"api_workers": 0})
    result = _run_api(config_file)
    assert result.returncode == 2
    assert "api_workers" in _assert_one_line(result.stderr)


def test_api_server_missing_paste_file_exits_2(local_env, tmp_path):
    missing = tmp_path / "nope.ini"
    result = _run_api(local_env.write_config(api={"paste_config": missing}))
    assert result.returncode == 2
    assert str(missing) in _assert_one_line(result.stderr)


def test_api_server_broken_paste_file_exits_2(local_env, tmp_path):
    paste = tmp_path / "broken.ini"
    paste.write_text("[composite:main\nuse = egg:Paste#urlmap\n")
    result = _run_api(local_env.write_config(api={"paste_config": paste}))
    assert result.returncode == 2
    assert str(paste) in _assert_one_line(result.stderr)


def test_api_server_missing_app_exits_2_naming_file_and_app(local_env,
                                                            tmp_path):
    paste = tmp_path / "other.ini"
    paste.write_text("[app:other]\n"
                     "paste.app_factory = tests.integration.apps:"
                     "gated_app_factory\n")
    for workers in (1, 2):  # checked before any worker is forked
        result = _run_api(local_env.write_config(
            api={"paste_config": paste, "api_workers": workers}))
        assert result.returncode == 2
        line = _assert_one_line(result.stderr)
        assert str(paste) in line and "'main'" in line


def test_api_server_factory_rejecting_its_section_exits_2_with_workers(
        local_env, tmp_path):
    # Only the factory sees this, when the app is built: with api_workers
    # the parent builds it once in a throwaway child before it forks.
    paste = tmp_path / "api-paste.ini"
    paste.write_text((pathlib.Path(SOURCE_ETC) / "api-paste.ini").read_text()
                     .replace("max_request_body_size = 114688",
                              "max_request_body_size = -1"))
    for workers in (1, 2):
        result = _run_api(local_env.write_config(
            api={"paste_config": paste, "api_workers": workers}))
        assert result.returncode == 2
        line = _assert_one_line(result.stderr)
        assert str(paste) in line and "[filter:sizelimit]" in line


def test_api_server_port_in_use_exits_1(local_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run_api(local_env.write_config(api={"bind_port": port}))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"api-server: cannot listen on 127.0.0.1:{port}: "
        "Address already in use")


def test_api_server_without_schema_exits_1_after_making_state_path(
        local_env, tmp_path):
    state = tmp_path / "fresh-state"
    # No [database] connection: the default SQLite file under state_path.
    config_file = procs.write_config(tmp_path / "capstan.conf", {
        "DEFAULT": {"state_path": state, "host": local_env.host},
        "api": {"bind_port": 0}})
    result = _run_api(str(config_file))
    assert state.is_dir()
    assert result.returncode == 1
    assert "capstan-manage db sync" in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("bind_host, warned", [("0.0.0.0", True),
                                               ("127.0.0.1", False)])
def test_api_server_warns_about_noauth_beyond_loopback(local_env, bind_host,
                                                       warned):
    # The port is taken, so the server stops right after its start-up
    # checks; the warning comes before the bind.
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run_api(local_env.write_config(api={
            "bind_host": bind_host, "bind_port": port,
            "auth_strategy": "noauth"}))
    assert result.returncode == 1
    warning = (f"auth_strategy = noauth on bind_host {bind_host}, which is "
               "not loopback")
    output = result.stdout + result.stderr
    assert (warning in output) is warned, output
