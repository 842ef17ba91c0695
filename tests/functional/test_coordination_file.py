"""Singleton periodic tasks on the default ``file://`` backend.

Two real Services in this process (``fake://`` bus, one SQLite file, file
locks under a tmp state_path) share a job: one runs it, and the other
takes it when the first stops. A second process holding the file lock
(without eventlet: plain threads) loses it to the kernel the moment it is
SIGKILLed.
"""
import subprocess
import sys
import textwrap

import eventlet
import pytest

from capstan.common import config
from capstan.common.coordination import Coordination
from capstan.common.manager import Manager
from capstan.common.periodic import periodic_task
from capstan.common.service import Service

pytestmark = pytest.mark.timeout(60)


class Housekeeping(Manager):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.runs = 0

    @periodic_task(spacing=0.05, run_immediately=True, singleton=True)
    def sweep(self, context):
        self.runs += 1


JOB = f"{__name__}.Housekeeping.sweep"


@pytest.fixture
def conf(tmp_path):
    conf = config.make_conf()
    config.load(conf, [])
    conf.set_override("state_path", str(tmp_path))
    conf.set_override("graceful_shutdown_timeout", 1)
    return conf


def wait_for(predicate, deadline: float = 20.0) -> None:
    with eventlet.Timeout(deadline):
        while not predicate():
            eventlet.sleep(0.02)


def test_file_coordination_one_of_two_services_runs_the_job(
        conf, db, transport):
    services = [Service.create(conf, db, transport, topic="housekeeping",
                               host=host, manager=Housekeeping,
                               periodic_interval=0.05,
                               periodic_fuzzy_delay=0)
                for host in ("a", "b")]
    for service in services:
        service.start()
    try:
        wait_for(lambda: sum(s.manager.runs for s in services) >= 10)
        running = [s for s in services if s.manager.runs]
        assert len(running) == 1
        holder = running[0]
        other = next(s for s in services if s is not holder)

        holder.stop()
        wait_for(lambda: other.manager.runs >= 3)

        assert other.coordination.held_jobs() == [JOB]
    finally:
        for service in services:
            service.stop(graceful=False)


CHILD = textwrap.dedent("""
    import sys, time
    from capstan.common.coordination import Coordination

    coordination = Coordination(sys.argv[1], host="child", lock_timeout=30)
    coordination.start()
    assert coordination.hold(sys.argv[2])
    print("held", flush=True)
    time.sleep(60)
""")


def test_file_coordination_sigkilled_holder_frees_the_job_at_once(tmp_path):
    url = f"file://{tmp_path}/coordination"
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, JOB],
                             stdout=subprocess.PIPE, text=True)
    coordination = Coordination(url, host="parent", lock_timeout=30)
    coordination.start()
    try:
        assert child.stdout.readline().strip() == "held"
        assert coordination.hold(JOB) is False

        child.kill()
        child.wait(10)

        assert coordination.hold(JOB) is True
    finally:
        child.kill()
        child.wait(10)
        child.stdout.close()
        coordination.stop()
