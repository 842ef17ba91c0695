"""ProcessLauncher driven as a real process tree.

Each test runs _SCRIPT with sys.executable: a parent ProcessLauncher with two
workers whose fake service appends "<pid> <event>" lines to a journal file.
The test reads the journal to learn the pids and what each process did, and
signals the processes directly.
"""
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.timeout(60)

_ROOT = pathlib.Path(__file__).resolve().parents[2]
_DEADLINE = 30.0
_WORKERS = 2

_SCRIPT = '''
import eventlet
eventlet.monkey_patch()

import logging
import os
import sys
import time

import eventlet.event
import eventlet.patcher

from capstan.common.launcher import ProcessLauncher

journal, stop_mode, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])


def record(event):
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, ("%d %s\\n" % (os.getpid(), event)).encode())
    finally:
        os.close(fd)


class Service:
    def __init__(self):
        record("built")
        if stop_mode == "crash":
            raise RuntimeError("cannot start")
        self._done = eventlet.event.Event()

    def start(self):
        record("start")
        # Runs at the worker's first yield, inside wait(): handlers are set.
        eventlet.spawn_n(record, "ready")

    def stop(self, graceful=True):
        record("stop graceful=%s" % graceful)
        if not graceful or stop_mode == "fast":
            self._finish()
        elif stop_mode == "slow":
            eventlet.spawn_after(1.0, self._finish)
        elif stop_mode == "stuck":
            eventlet.patcher.original("time").sleep(3600)

    def _finish(self):
        if not self._done.ready():
            record("finished")
            self._done.send()

    def wait(self):
        self._done.wait()

    def reset(self):
        record("reset")


logging.basicConfig(level=logging.INFO)
launcher = ProcessLauncher(timeout, reload_config=lambda: record("reload"),
                           respawn_throttle=0.2)
launcher.launch_service(Service, workers=int(sys.argv[4]))
eventlet.spawn_n(record, "waiting")
sys.exit(launcher.wait())
'''


def _alive(pid):
    """Whether pid runs; a zombie left for a lazy init to reap counts dead."""
    try:
        stat = pathlib.Path("/proc/%d/stat" % pid).read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Tree:
    """The launcher process tree started from _SCRIPT, and its journal."""

    def __init__(self, tmp_path, stop_mode, timeout):
        script = tmp_path / "launch.py"
        script.write_text(_SCRIPT)
        self.journal = tmp_path / "journal"
        self.journal.touch()
        self._output = tmp_path / "output"
        env = dict(os.environ, PYTHONPATH=str(_ROOT))
        with self._output.open("wb") as output:
            self.proc = subprocess.Popen(
                [sys.executable, str(script), str(self.journal), stop_mode,
                 str(timeout), str(_WORKERS)],
                cwd=_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)

    def events(self):
        lines = self.journal.read_text().splitlines()
        return [(int(pid), event) for pid, event in
                (line.split(" ", 1) for line in lines)]

    def pids(self, event):
        return [pid for pid, seen in self.events() if seen == event]

    def workers(self, event):
        return [pid for pid in self.pids(event) if pid != self.proc.pid]

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + _DEADLINE
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail("timed out waiting for %s\n%s"
                            % (what, self.report()))
            time.sleep(0.05)

    def wait_ready(self):
        self.wait_for(lambda: self.pids("waiting")
                      and len(self.workers("ready")) >= _WORKERS, "workers")
        return self.workers("ready")

    def signal(self, signo):
        os.kill(self.proc.pid, signo)

    def exit_status(self):
        try:
            return self.proc.wait(timeout=_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail("launcher did not exit\n" + self.report())

    def report(self):
        return "journal:\n%s\noutput:\n%s" % (
            self.journal.read_text(), self._output.read_text(errors="replace"))

    def kill_all(self):
        for pid in {self.proc.pid, *(pid for pid, _ in self.events())}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()


@pytest.fixture
def start_tree(tmp_path):
    trees = []

    def start(stop_mode="fast", timeout=30.0):
        tree = Tree(tmp_path, stop_mode, timeout)
        trees.append(tree)
        return tree

    yield start
    for tree in trees:
        tree.kill_all()


def test_process_launcher_killed_worker_is_respawned_with_new_pid(start_tree):
    tree = start_tree()
    first, second = tree.wait_ready()

    os.kill(first, signal.SIGKILL)
    tree.wait_for(lambda: len(set(tree.workers("ready"))) > _WORKERS,
                  "a respawned worker")

    assert not _alive(first)
    assert _alive(second)
    tree.signal(signal.SIGTERM)
    assert tree.exit_status() == 0, tree.report()


def test_process_launcher_crashing_worker_is_respawned(start_tree):
    tree = start_tree(stop_mode="crash")

    tree.wait_for(lambda: len(set(tree.workers("built"))) > 2 * _WORKERS,
                  "repeated respawns")

    assert tree.proc.poll() is None
    tree.signal(signal.SIGTERM)
    tree.exit_status()


def test_process_launcher_sighup_resets_workers_without_restart(start_tree):
    tree = start_tree()
    workers = tree.wait_ready()

    tree.signal(signal.SIGHUP)
    tree.wait_for(lambda: sorted(tree.workers("reset")) == sorted(workers),
                  "resets")

    assert tree.proc.pid in tree.pids("reload")
    tree.signal(signal.SIGTERM)
    assert tree.exit_status() == 0, tree.report()
    assert sorted(tree.workers("built")) == sorted(workers)
    assert sorted(tree.workers("reload")) == sorted(workers)


def test_process_launcher_sigterm_lets_slow_stop_finish(start_tree):
    tree = start_tree(stop_mode="slow")
    workers = tree.wait_ready()

    tree.signal(signal.SIGTERM)

    assert tree.exit_status() == 0, tree.report()
    assert sorted(tree.workers("finished")) == sorted(workers)
    assert tree.workers("stop graceful=False") == []


def test_process_launcher_second_sigint_stops_workers_now(start_tree):
    tree = start_tree(stop_mode="hang", timeout=3600)
    workers = tree.wait_ready()

    tree.signal(signal.SIGINT)
    tree.wait_for(lambda: len(tree.workers("stop graceful=True")) == _WORKERS,
                  "graceful stops")
    tree.signal(signal.SIGINT)

    assert tree.exit_status() != 0
    assert sorted(tree.workers("stop graceful=False")) == sorted(workers)


def test_process_launcher_stuck_worker_is_killed_after_timeout(start_tree):
    tree = start_tree(stop_mode="stuck", timeout=0.5)
    workers = tree.wait_ready()

    tree.signal(signal.SIGTERM)

    assert tree.exit_status() == 1
    assert "killing them" in tree.report()
    assert not any(_alive(pid) for pid in workers)


def test_process_launcher_workers_exit_when_parent_dies(start_tree):
    tree = start_tree(stop_mode="slow")
    workers = tree.wait_ready()

    tree.signal(signal.SIGKILL)
    tree.proc.wait()

    tree.wait_for(lambda: not any(_alive(pid) for pid in workers),
                  "orphaned workers to exit")
    assert sorted(tree.workers("finished")) == sorted(workers)
