"""Integration tier for the ``worker`` binary: real processes, real backends.

How to run::

    CAPSTAN_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1/test \\
    CAPSTAN_TEST_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/ \\
        /work/venv/bin/python -m pytest tests/integration/test_worker.py -v

``CAPSTAN_TEST_DB_URL`` names a PostgreSQL database the tests may connect to
with the right to CREATE DATABASE; each test gets a fresh database next to
it. ``CAPSTAN_TEST_TRANSPORT_URL`` names a RabbitMQ broker; each test gets a
fresh vhost, made with ``rabbitmqctl`` (which must be on PATH and allowed to
talk to the broker). Without the variables the backend tests are skipped;
with ``CI`` set they fail instead. The exit-code tests need no backend.

Each test writes a config file in its tmp_path, runs ``capstan-manage db
sync`` on it, and starts ``worker --topic echo`` with
``tests.integration.managers.EchoManager`` as the echo manager. The
manager journals what it does to a file; the test talks to the worker over
oslo.messaging, reads the service record with ``Database``, and reads the
journal and the worker's log (``<tmp_path>/worker-N.log``, kept on failure
by pytest's tmp_path retention). Every wait polls with a generous deadline;
no test asserts how long anything took. Teardown SIGKILLs the process group
of every process a test started.
"""
from __future__ import annotations

import os
import signal
import time
import uuid

import oslo_messaging as messaging
import pytest

from capstan.common import config, records, rpc
from capstan.common import context as capstan_context
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from tests.integration import managers, procs

pytestmark = pytest.mark.timeout(120)

TOPIC = "echo"
MANAGER = "tests.integration.managers.EchoManager"
RPC_TIMEOUT = 30


class WorkerEnv:
    """One test's backends, config file and worker processes."""

    def __init__(self, tmp_path, pg_url: str, rabbit_url: str) -> None:
        self.tmp_path = tmp_path
        self.pg_url = pg_url
        self.rabbit_url = rabbit_url
        self.host = f"itest-{uuid.uuid4().hex[:8]}"
        self.journal = tmp_path / "journal"
        self.procs = procs.ProcGroup(tmp_path)
        self.db = Database(pg_url)
        self._transport: messaging.Transport | None = None
        self._configs = 0
        # Of the last config file written; is_up() reads with it.
        self.service_down_time = 10

    # -- configuration --------------------------------------------------

    def write_config(self, **defaults) -> str:
        """Write a config file; ``defaults`` override [DEFAULT] options."""
        values = {
            "host": self.host,
            "transport_url": self.rabbit_url,
            "state_path": self.tmp_path / "state",
            "report_interval": 1,
            "service_down_time": 10,
            "periodic_interval": 1,
            "periodic_fuzzy_delay": 0,
            "graceful_shutdown_timeout": 20,
            f"{TOPIC}_manager": MANAGER,
        }
        values.update(defaults)
        self.service_down_time = values["service_down_time"]
        self._configs += 1
        path = self.tmp_path / f"capstan-{self._configs}.conf"
        procs.write_config(path, {
            "DEFAULT": values,
            "database": {"connection": self.pg_url},
            "echo": {"journal": self.journal},
        })
        return str(path)

    def db_sync(self, config_file: str) -> None:
        result = procs.run("capstan-manage",
                           ["--config-file", config_file, "db", "sync"])
        assert result.returncode == 0, result.stderr

    # -- processes --------------------------------------------------------

    def start_worker(self, config_file: str, *args: str) -> procs.Proc:
        return self.procs.start(
            "worker", ["--topic", TOPIC, "--config-file", config_file, *args])

    def start_ready_worker(self, *args: str, **defaults) -> procs.Proc:
        """Sync the schema, start a worker, wait until it consumes."""
        config_file = self.write_config(**defaults)
        self.db_sync(config_file)
        worker = self.start_worker(config_file, *args)
        # Logged after the RPC server has declared its queues, so a message
        # sent from now on is not lost.
        worker.wait_for_log(r"started, consuming echo\.")
        return worker

    # -- what the test observes -----------------------------------------------

    def record(self):
        return Services(self.db).get_by_host_topic(self.host, TOPIC)

    def is_up(self, row) -> bool:
        return records.is_up(row, now=self.db.now(),
                             service_down_time=self.service_down_time)

    def events(self, event: str) -> list[tuple[int, str | None]]:
        return [(pid, argument)
                for pid, name, argument in managers.read(str(self.journal))
                if name == event]

    # -- RPC from the test process ------------------------------------------

    @property
    def transport(self) -> messaging.Transport:
        if self._transport is None:
            conf = config.make_conf()
            config.load(conf, [])
            conf.set_override("transport_url", self.rabbit_url)
            self._transport = rpc.get_transport(conf)
        return self._transport

    def client(self, **prepare):
        client = rpc.get_client(self.transport,
                                messaging.Target(topic=TOPIC),
                                timeout=RPC_TIMEOUT)
        return client.prepare(**prepare) if prepare else client

    def close(self) -> None:
        self.procs.cleanup()
        if self._transport is not None:
            self._transport.cleanup()
        self.db.dispose()


@pytest.fixture
def env(tmp_path, pg_url, rabbit_url):
    worker_env = WorkerEnv(tmp_path, pg_url, rabbit_url)
    try:
        yield worker_env
    finally:
        worker_env.close()


def ctx(request_id: str | None = None) -> capstan_context.RequestContext:
    return capstan_context.RequestContext(
        user_id="itest-user", project_id="itest-project", roles=["member"],
        request_id=request_id, overwrite=False)


# 1 -----------------------------------------------------------------------

def test_service_record_appears_and_heartbeats(env):
    worker = env.start_ready_worker()

    row = procs.wait_until(env.record, what="the service record",
                           diagnose=worker.log_tail)
    assert (row.binary, row.topic, row.host) == ("worker", TOPIC, env.host)
    assert row.state == "running"
    first = row.report_count

    procs.wait_until(lambda: env.record().report_count >= first + 3,
                     what=f"report_count to grow past {first + 2}",
                     diagnose=worker.log_tail)
    assert env.is_up(env.record())
    assert worker.running()


# 2 -----------------------------------------------------------------------

def test_rpc_call_answered_and_casts_processed(env):
    worker = env.start_ready_worker()

    reply = env.client().call(ctx(), "echo", value="hello")
    assert reply["value"] == "hello"
    assert reply["pid"] == worker.pid

    # Addressed to this host's own queue, as the volume rpcapi does.
    reply = env.client(server=env.host).call(ctx(), "echo", value=[1, 2])
    assert reply["value"] == [1, 2]

    tags = [f"cast-{n}" for n in range(10)]
    for tag in tags:
        env.client().cast(ctx(), "record", tag=tag)
    procs.wait_until(
        lambda: {tag for _, tag in env.events("record")} >= set(tags),
        what="every cast to be journalled", diagnose=worker.log_tail)
    assert sorted(tag for _, tag in env.events("record")) == sorted(tags)


def test_unexposed_method_is_not_callable(env):
    env.start_ready_worker()
    # ExplicitRPCAccessPolicy: only @expose'd methods answer; the periodic
    # task and the hooks are not RPC methods.
    for method, kwargs in (("tick", {}), ("init_host", {"service_id": 1})):
        with pytest.raises(messaging.RemoteError) as caught:
            env.client().call(ctx(), method, **kwargs)
        assert caught.value.exc_type == "NoSuchMethod", caught.value
    assert not env.events("init_host")[1:], "init_host ran again over RPC"


# 3 -----------------------------------------------------------------------

def test_periodic_task_runs_on_schedule(env):
    spacing = 1.0  # EchoManager.tick
    started = time.monotonic()
    worker = env.start_ready_worker()

    # The lower bound: it keeps running, tick after tick.
    procs.wait_until(lambda: len(env.events("tick")) >= 4,
                     what="4 periodic runs", diagnose=worker.log_tail)
    before = len(env.events("tick"))
    procs.wait_until(lambda: len(env.events("tick")) >= before + 2,
                     what="2 more periodic runs", diagnose=worker.log_tail)

    # The upper bound compares counts with the time the test has watched:
    # the process cannot have run longer than since it was started.
    runs = len(env.events("tick"))
    elapsed = time.monotonic() - started
    assert runs <= elapsed / spacing + 2, (runs, elapsed)
    assert {pid for pid, _ in env.events("tick")} == {worker.pid}


# 4 -----------------------------------------------------------------------

def test_sigterm_lets_a_slow_cast_finish(env):
    worker = env.start_ready_worker(graceful_shutdown_timeout=20)
    procs.wait_until(env.record, what="the service record")

    env.client().cast(ctx(), "slow", tag="s1", seconds=3)
    procs.wait_until(lambda: env.events("slow-start"),
                     what="the slow cast to start", diagnose=worker.log_tail)
    worker.signal(signal.SIGTERM)

    # Bounded by graceful_shutdown_timeout (20 s) plus start-up slack.
    assert worker.wait(timeout=60) == 0, worker.log_tail()
    assert env.events("slow-done") == [(worker.pid, "s1")], worker.log_tail()
    assert env.record().state == "stopped"
    assert not env.is_up(env.record())
    assert "Traceback" not in worker.log()


def test_sigterm_gives_up_on_a_cast_outliving_the_timeout(env):
    worker = env.start_ready_worker(graceful_shutdown_timeout=2)
    procs.wait_until(env.record, what="the service record")

    env.client().cast(ctx(), "slow", tag="stuck", seconds=60)
    procs.wait_until(lambda: env.events("slow-start"),
                     what="the slow cast to start", diagnose=worker.log_tail)
    worker.signal(signal.SIGTERM)

    # Not a timing assertion: the deadline is generous against the 2 s
    # timeout, and the point is that the exit comes before the cast's end.
    code = worker.wait(timeout=30)
    assert not env.events("slow-done")
    assert code == 1, worker.log_tail()
    assert env.record().state == "stopped"


# 5 -----------------------------------------------------------------------

def call_until_answered_by(env, wanted: set[int], *, what: str,
                           diagnose=None) -> set[int]:
    """Call ``echo`` until every pid in ``wanted`` has answered.

    The children of one worker consume the same queue, which RabbitMQ
    hands out round robin; return the set of pids that answered.
    """
    answered: set[int] = set()

    def done():
        answered.add(env.client().call(ctx(), "echo", value="x")["pid"])
        return answered >= wanted

    procs.wait_until(done, what=what, diagnose=diagnose)
    return answered


def test_workers_respawn_and_parent_stops_cleanly(env):
    parent = env.start_ready_worker("--workers", "2")

    children = procs.wait_until(
        lambda: len(parent.children()) == 2 and parent.children(),
        what="2 children", diagnose=parent.log_tail)
    # Both children serve; the parent only supervises.
    parent.wait_for_log(r"started, consuming echo\.", count=2)
    answered = call_until_answered_by(env, children,
                                      what=f"answers from {children}",
                                      diagnose=parent.log_tail)
    assert answered == children

    victim, survivor = sorted(children)
    os.kill(victim, signal.SIGKILL)

    def respawned():
        now = parent.children()
        return len(now) == 2 and victim not in now and now

    now = procs.wait_until(respawned, what="a respawned child",
                           diagnose=parent.log_tail)
    assert survivor in now
    (newcomer,) = now - {survivor}
    parent.wait_for_log(rf"worker {victim} exited with status -9")

    # The newcomer serves too, once it consumes.
    parent.wait_for_log(r"started, consuming echo\.", count=3)
    call_until_answered_by(env, {newcomer},
                           what=f"an answer from {newcomer}",
                           diagnose=parent.log_tail)

    parent.signal(signal.SIGTERM)
    assert parent.wait(timeout=60) == 0, parent.log_tail()
    for pid in (survivor, newcomer):
        procs.wait_until(lambda pid=pid: not procs.is_alive(pid),
                         what=f"child {pid} to exit")
    assert env.record().state == "stopped"
    assert "Traceback" not in parent.log()


# 6 -----------------------------------------------------------------------

def test_killed_worker_reads_down_after_service_down_time(env):
    worker = env.start_ready_worker(report_interval=1, service_down_time=3)

    first = procs.wait_until(
        env.record, what="the service record").report_count
    procs.wait_until(lambda: env.record().report_count > first,
                     what="a heartbeat", diagnose=worker.log_tail)
    assert env.is_up(env.record())

    worker.signal(signal.SIGKILL)
    assert worker.wait() == -signal.SIGKILL
    procs.wait_until(lambda: not env.is_up(env.record()),
                     what="the record to read down")
    # Down by the age of its last heartbeat: nobody marked it stopped.
    row = env.record()
    assert row.state == "running"
    assert (env.db.now() - row.last_seen_up).total_seconds() > 3


# 7 -----------------------------------------------------------------------

@pytest.fixture
def bad_env(tmp_path):
    """Config files for start-up failures; no backend is ever reached."""
    def write(extra: str = "") -> str:
        path = tmp_path / "capstan.conf"
        path.write_text("[DEFAULT]\n"
                        f"state_path = {tmp_path}/state\n"
                        f"{extra}\n", encoding="utf-8")
        return str(path)
    return write


def _assert_fails_cleanly(result, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("worker: "), lines
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_exit_2_unknown_topic(bad_env):
    result = procs.run("worker", ["--topic", "nosuch",
                                  "--config-file", bad_env()])
    _assert_fails_cleanly(result, "nosuch", "nosuch_manager")


def test_exit_2_invalid_topic(bad_env):
    result = procs.run("worker", ["--topic", "no-such",
                                  "--config-file", bad_env()])
    _assert_fails_cleanly(result, "no-such")


@pytest.mark.parametrize("path", [
    "tests.integration.managers.NoSuchManager",
    "tests.integration.no_such_module.EchoManager",
    "notdotted",
])
def test_exit_2_unloadable_manager(bad_env, path):
    result = procs.run("worker", [
        "--topic", TOPIC,
        "--config-file", bad_env(f"{TOPIC}_manager = {path}")])
    _assert_fails_cleanly(result, path)


def test_exit_2_unparseable_config_file(bad_env, tmp_path):
    broken = tmp_path / "broken.conf"
    broken.write_text("this is not an ini file\n[DEFAULT\n", encoding="utf-8")
    result = procs.run("worker", ["--topic", TOPIC,
                                  "--config-file", str(broken)])
    _assert_fails_cleanly(result, str(broken))


def test_exit_2_missing_config_file(tmp_path):
    missing = tmp_path / "missing.conf"
    result = procs.run("worker", ["--topic", TOPIC,
                                  "--config-file", str(missing)])
    _assert_fails_cleanly(result, str(missing))


def test_exit_2_invalid_option_value(bad_env):
    result = procs.run("worker", [
        "--topic", TOPIC, "--config-file",
        bad_env(f"{TOPIC}_manager = {MANAGER}\nreport_interval = often")])
    _assert_fails_cleanly(result, "report_interval")


# 8 -----------------------------------------------------------------------

def test_request_id_crosses_the_bus(env):
    worker = env.start_ready_worker()
    request_id = f"req-{uuid.uuid4()}"
    marker = f"marker-{uuid.uuid4().hex}"

    reply = env.client().call(ctx(request_id), "echo", value=marker)
    assert reply["request_id"] == request_id

    (line,) = worker.wait_for_log(rf"echo called with {marker}")
    assert request_id in line, line
