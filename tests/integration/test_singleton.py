"""Singleton periodic tasks across real processes, coordinated through Redis.

How to run::

    CAPSTAN_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1/test \\
    CAPSTAN_TEST_REDIS_URL=redis://127.0.0.1:6379 \\
        .venv/bin/pytest tests/integration/test_singleton.py -v

Two ``worker --topic singleton`` processes (hosts a and b, one PostgreSQL
database, each its own ``fake://`` bus) run
:class:`tests.integration.managers.SingletonManager`: ``once`` is a
singleton task every ``SPACING`` seconds, ``tick`` an ordinary one. The
last test drives two Coordination objects on Redis in this process. Each
test gets its own Redis namespace (``backends.fresh_redis_namespace``), so
other users of the same Redis are never disturbed. Without
``CAPSTAN_TEST_REDIS_URL`` or ``CAPSTAN_TEST_DB_URL`` the tests are skipped;
with ``CI`` set they fail instead.
"""
from __future__ import annotations

import logging
import signal
import time

import eventlet
import pytest

from capstan.common.coordination import Coordination
from tests.integration import managers, procs

pytestmark = pytest.mark.timeout(120)

SPACING = managers.SingletonManager.SPACING
# NOTE(capstan): fail-over takes at most lock_timeout (the dead holder's
# lock expiring) plus SPACING (the survivor's next try): 2 + 3 s, inside
# the two intervals (6 s) the test asserts. A third of it, the holder's
# refresh period, leaves a live holder 1.3 s of stall before it loses
# the job.
LOCK_TIMEOUT = 2


class SingletonEnv:
    def __init__(self, tmp_path, pg_url: str, redis_url: str) -> None:
        self.tmp_path = tmp_path
        self.journal = tmp_path / "journal"
        self.procs = procs.ProcGroup(tmp_path)
        self.pg_url = pg_url
        self.redis_url = redis_url

    def config(self, host: str) -> str:
        path = procs.write_config(self.tmp_path / f"{host}.conf", {
            "DEFAULT": {
                "host": host, "transport_url": "fake://",
                "state_path": self.tmp_path / "state",
                "report_interval": 1, "periodic_interval": 1,
                "periodic_fuzzy_delay": 0, "graceful_shutdown_timeout": 5,
                "singleton_manager":
                    "tests.integration.managers.SingletonManager",
            },
            "database": {"connection": self.pg_url},
            "coordination": {"backend_url": self.redis_url,
                             "lock_timeout": LOCK_TIMEOUT},
            "echo": {"journal": self.journal},
        })
        return str(path)

    def start(self, host: str) -> procs.Proc:
        config_file = self.config(host)
        result = procs.run("capstan-manage",
                           ["--config-file", config_file, "db", "sync"])
        assert result.returncode == 0, result.stderr
        return self.procs.start(
            "worker", ["--topic", "singleton", "--config-file", config_file],
            log_name=f"worker-{host}.log")

    def runs(self) -> list[tuple[int, float]]:
        """``(pid, time)`` of every run of the singleton task, in order."""
        return [(pid, float(argument))
                for pid, event, argument in managers.read(str(self.journal))
                if event == "singleton"]

    def ticked(self, pid: int) -> bool:
        return any(p == pid and event == "tick"
                   for p, event, _ in managers.read(str(self.journal)))

    def diagnose(self) -> str:
        return "\n".join(proc.log_tail() for proc in self.procs.procs)


@pytest.fixture
def env(tmp_path, pg_url, redis_url):
    singleton_env = SingletonEnv(tmp_path, pg_url, redis_url)
    try:
        yield singleton_env
    finally:
        singleton_env.procs.cleanup()


def start_both(env: SingletonEnv) -> dict[int, procs.Proc]:
    workers = [env.start("host-a"), env.start("host-b")]
    for worker in workers:
        worker.wait_for_log(r"started, consuming singleton\.")
    by_pid = {worker.pid: worker for worker in workers}
    # Both run their ordinary task; one of them runs the singleton.
    procs.wait_until(
        lambda: all(env.ticked(pid) for pid in by_pid)
        and len(env.runs()) >= 2,
        what="ticks from both workers and two singleton runs",
        diagnose=env.diagnose)
    return by_pid


def holder_of(env: SingletonEnv) -> int:
    holders = {pid for pid, _ in env.runs()}
    assert len(holders) == 1, f"singleton ran in {holders}\n{env.diagnose()}"
    return holders.pop()


def wait_for_takeover(env: SingletonEnv, survivor: int,
                      since: float) -> float:
    """Seconds from ``since`` to the survivor's first singleton run."""
    def taken():
        return [at for pid, at in env.runs() if pid == survivor]

    first = procs.wait_until(taken, what="the survivor to take the job",
                             diagnose=env.diagnose)[0]
    return first - since


def test_singleton_task_fails_over_when_its_holder_is_killed(env):
    workers = start_both(env)
    holder = holder_of(env)
    survivor = next(pid for pid in workers if pid != holder)

    workers[holder].kill_all()  # SIGKILL: no release, the lock must expire
    killed_at = time.time()
    took = wait_for_takeover(env, survivor, killed_at)

    print(f"fail-over after SIGKILL: {took:.2f}s "
          f"(lock_timeout {LOCK_TIMEOUT}s, spacing {SPACING}s)")
    assert took <= 2 * SPACING, env.diagnose()
    # Never two at a time: before the kill only the holder ran it, after
    # it only the survivor.
    assert {pid for pid, at in env.runs() if at > killed_at} == {survivor}
    assert workers[survivor].log_lines(r"now runs job .*SingletonManager")


def test_singleton_task_moves_at_once_when_its_holder_stops(env):
    workers = start_both(env)
    holder = holder_of(env)
    survivor = next(pid for pid in workers if pid != holder)

    stopped_at = time.time()
    workers[holder].signal(signal.SIGTERM)
    assert workers[holder].wait() == 0
    took = wait_for_takeover(env, survivor, stopped_at)

    print(f"fail-over after SIGTERM: {took:.2f}s (spacing {SPACING}s)")
    # Released on stop: the survivor's next try takes it.
    assert took <= SPACING + 1, env.diagnose()


def test_redis_coordination_lock_expires_without_heartbeats(redis_url,
                                                             caplog):
    # Real tooz and redis-py under this process's eventlet patch: a holder
    # that stops refreshing loses the job one lock_timeout later, and says
    # so instead of running it alongside the new holder.
    job = "tests.integration.test_singleton.job"
    holder = Coordination(redis_url, host="a", lock_timeout=1)
    other = Coordination(redis_url, host="b", lock_timeout=1)
    holder.start()
    other.start()
    try:
        assert holder.hold(job) is True
        assert other.hold(job) is False
        for _ in range(6):  # 2 s of heartbeats keep it
            eventlet.sleep(holder.heartbeat_interval)
            holder.heartbeat()
        assert other.hold(job) is False

        eventlet.sleep(1.2)  # no heartbeat: the lock expires

        assert other.hold(job) is True
        with caplog.at_level(logging.WARNING):
            assert holder.hold(job) is False
        assert f"job {job} was lost" in caplog.text
        holder.heartbeat()  # nothing left to refresh, nothing logged
        assert holder.held_jobs() == []
    finally:
        holder.stop()
        other.stop()
