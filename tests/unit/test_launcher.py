"""ServiceLauncher driven in process with fake services and real signals.

The signals are sent to the test process itself, only once the launcher's
handlers are installed (see _serve_in_background); otherwise SIGINT would
interrupt the test run. Forking workers is covered in
tests/functional/test_launcher_process.py.
"""
import logging
import os
import signal
import time

import eventlet
import eventlet.event
import pytest

from capstan.common import launcher as launcher_mod
from capstan.common.launcher import ProcessLauncher, ServiceLauncher

pytestmark = pytest.mark.timeout(60)

_DEADLINE = 30.0


class FakeService:
    """Record calls in a shared journal; wait() returns once stopped.

    stop_mode: "finish" ends wait() on any stop; "hang" ends it only on
    stop(graceful=False); "block" makes stop(graceful=True) itself never
    return, like a stop that drains in-flight work forever.
    """

    def __init__(self, name, journal, stop_mode="finish"):
        self.name = name
        self.journal = journal
        self.stop_mode = stop_mode
        self._done = eventlet.event.Event()

    def __repr__(self):
        return "<FakeService %s>" % self.name

    def start(self):
        self.journal.append((self.name, "start"))

    def stop(self, graceful=True):
        self.journal.append((self.name, "stop", graceful))
        if not graceful or self.stop_mode == "finish":
            self.finish()
        elif self.stop_mode == "block":
            eventlet.event.Event().wait()

    def wait(self):
        self._done.wait()

    def reset(self):
        self.journal.append((self.name, "reset"))

    def finish(self, error=None):
        if self._done.ready():
            return
        if error is None:
            self._done.send()
        else:
            self._done.send_exception(error)


def _wait_until(predicate, what):
    deadline = time.monotonic() + _DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        eventlet.sleep(0.01)


def _serve_in_background(launcher):
    """Run launcher.wait() in a greenthread; return once it handles signals."""
    before = signal.getsignal(signal.SIGHUP)
    thread = eventlet.spawn(launcher.wait)
    _wait_until(lambda: signal.getsignal(signal.SIGHUP) != before,
                "signal handlers")
    return thread


def _launch(journal, *stop_modes, timeout=30.0, reload_config=None):
    launcher = ServiceLauncher(timeout, reload_config=reload_config)
    services = [FakeService(str(i), journal, mode)
                for i, mode in enumerate(stop_modes)]
    for service in services:
        launcher.launch_service(service)
    return launcher, services


def _kill_self(signo):
    os.kill(os.getpid(), signo)


def test_service_launcher_launch_service_starts_services_in_order():
    journal = []
    _launch(journal, "finish", "finish", "finish")
    assert journal == [("0", "start"), ("1", "start"), ("2", "start")]


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_service_launcher_stop_signal_stops_gracefully_and_returns_0(signo):
    journal = []
    launcher, _ = _launch(journal, "finish", "finish")
    thread = _serve_in_background(launcher)

    _kill_self(signo)

    assert thread.wait() == 0
    stops = [entry for entry in journal if entry[1] == "stop"]
    assert sorted(stops) == [("0", "stop", True), ("1", "stop", True)]


def test_service_launcher_wait_restores_signal_handlers():
    before = {s: signal.getsignal(s)
              for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    launcher, _ = _launch([], "finish")
    thread = _serve_in_background(launcher)

    _kill_self(signal.SIGTERM)
    thread.wait()

    assert {s: signal.getsignal(s) for s in before} == before


def test_service_launcher_graceful_timeout_returns_1_and_warns(caplog):
    journal = []
    launcher, services = _launch(journal, "hang", timeout=0.2)
    thread = _serve_in_background(launcher)

    with caplog.at_level(logging.WARNING, logger=launcher_mod.__name__):
        _kill_self(signal.SIGTERM)
        assert thread.wait() == 1

    assert "graceful_shutdown_timeout" in caplog.text
    assert ("0", "stop", False) not in journal
    services[0].finish()  # release the greenthread still in wait()


@pytest.mark.parametrize("stop_mode", ["hang", "block"])
def test_service_launcher_second_sigint_stops_immediately(stop_mode):
    journal = []
    launcher, _ = _launch(journal, stop_mode, timeout=3600)
    thread = _serve_in_background(launcher)

    _kill_self(signal.SIGINT)
    _wait_until(lambda: ("0", "stop", True) in journal, "graceful stop")
    _kill_self(signal.SIGINT)

    assert thread.wait() == 1
    assert ("0", "stop", False) in journal


def test_service_launcher_sigterm_while_stopping_is_ignored():
    journal = []
    launcher, services = _launch(journal, "hang", timeout=3600)
    thread = _serve_in_background(launcher)

    _kill_self(signal.SIGTERM)
    _wait_until(lambda: ("0", "stop", True) in journal, "graceful stop")
    _kill_self(signal.SIGTERM)
    eventlet.sleep(0.3)  # let the launcher see the second SIGTERM
    assert not thread.dead
    services[0].finish()

    assert thread.wait() == 0
    assert ("0", "stop", False) not in journal


def test_service_launcher_sighup_reloads_then_resets_and_keeps_running():
    journal = []
    launcher, _ = _launch(journal, "finish", "finish",
                          reload_config=lambda: journal.append(("reload",)))
    thread = _serve_in_background(launcher)

    _kill_self(signal.SIGHUP)
    _wait_until(lambda: ("1", "reset") in journal, "reset")

    assert journal[2:] == [("reload",), ("0", "reset"), ("1", "reset")]
    assert not thread.dead
    _kill_self(signal.SIGTERM)
    assert thread.wait() == 0


def test_service_launcher_sighup_reload_error_is_logged_and_resets(caplog):
    def broken_reload():
        raise ValueError("bad config file")

    journal = []
    launcher, _ = _launch(journal, "finish", reload_config=broken_reload)
    thread = _serve_in_background(launcher)

    with caplog.at_level(logging.ERROR, logger=launcher_mod.__name__):
        _kill_self(signal.SIGHUP)
        _wait_until(lambda: ("0", "reset") in journal, "reset")

    assert "bad config file" in caplog.text
    assert not thread.dead
    _kill_self(signal.SIGTERM)
    assert thread.wait() == 0


def test_service_launcher_sighup_without_reload_config_resets():
    journal = []
    launcher, _ = _launch(journal, "finish")
    thread = _serve_in_background(launcher)

    _kill_self(signal.SIGHUP)
    _wait_until(lambda: ("0", "reset") in journal, "reset")

    _kill_self(signal.SIGTERM)
    assert thread.wait() == 0


def test_service_launcher_service_finishing_stops_others_and_returns_0():
    journal = []
    launcher, services = _launch(journal, "finish", "finish")
    thread = _serve_in_background(launcher)

    services[0].finish()

    assert thread.wait() == 0
    assert ("1", "stop", True) in journal


def test_service_launcher_service_raising_returns_1():
    journal = []
    launcher, services = _launch(journal, "finish", "finish")
    thread = _serve_in_background(launcher)

    services[1].finish(RuntimeError("lost the broker"))

    assert thread.wait() == 1
    assert ("0", "stop", True) in journal


def test_service_launcher_stop_while_waiting_returns_0():
    journal = []
    launcher, _ = _launch(journal, "finish")
    thread = _serve_in_background(launcher)

    launcher.stop()

    assert thread.wait() == 0
    assert ("0", "stop", True) in journal


def test_service_launcher_stop_without_wait_stops_services():
    journal = []
    launcher, _ = _launch(journal, "finish", "finish")

    launcher.stop()

    assert ("0", "stop", True) in journal
    assert ("1", "stop", True) in journal
    assert launcher.wait() == 0


def test_service_launcher_start_error_reaches_caller():
    class Broken(FakeService):
        def start(self):
            raise RuntimeError("cannot bind")

    launcher = ServiceLauncher(30)
    with pytest.raises(RuntimeError, match="cannot bind"):
        launcher.launch_service(Broken("x", []))


def test_slot_respawn_due_within_throttle_is_false():
    slot = launcher_mod._Slot(factory=object, throttle=1.0)
    slot.forked_at = 10.0
    assert not slot.respawn_due(now=10.5)


def test_slot_respawn_due_after_throttle_is_true():
    slot = launcher_mod._Slot(factory=object, throttle=1.0)
    slot.forked_at = 10.0
    assert slot.respawn_due(now=11.0)


def test_slot_respawn_due_while_worker_runs_is_false():
    slot = launcher_mod._Slot(factory=object, throttle=1.0)
    slot.pid = 12345
    assert not slot.respawn_due(now=100.0)


def test_slot_respawn_due_never_forked_is_true():
    assert launcher_mod._Slot(factory=object, throttle=1.0).respawn_due(0.0)


def test_slot_exited_soon_after_start_doubles_delay_up_to_max():
    slot = launcher_mod._Slot(factory=object, throttle=1.0)
    delays = []
    for _ in range(10):
        slot.forked_at = 100.0
        slot.pid = 1
        slot.exited(now=101.0)
        delays.append(slot.delay)
    assert delays[:4] == [2.0, 4.0, 8.0, 16.0]
    assert delays[-1] == launcher_mod._MAX_BACKOFF
    assert not slot.respawn_due(now=101.0 + 30)


def test_slot_exited_after_long_run_resets_delay():
    slot = launcher_mod._Slot(factory=object, throttle=1.0)
    slot.delay = 32.0
    slot.forked_at = 100.0
    slot.pid = 1
    slot.exited(now=100.0 + launcher_mod._QUICK_EXIT + 1)
    assert slot.delay == 1.0
    assert slot.pid is None


def test_process_launcher_launch_service_without_workers_raises():
    with pytest.raises(ValueError):
        ProcessLauncher(30).launch_service(object, workers=0)
