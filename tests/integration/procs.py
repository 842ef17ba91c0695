"""Real capstan processes for the integration tier.

:func:`write_config` makes a config file; :class:`Proc` starts a binary on
it with its log (stdout and stderr) captured in a file; :func:`wait_until`
polls a condition with a generous deadline; :class:`ProcGroup` remembers
every process a test started and kills what is left in teardown.

Every process starts in its own session, so it and every child it forks
share a process group: teardown SIGKILLs that group, and no worker outlives
its test whatever the test did.
"""
from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Iterable

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN_DIR = pathlib.Path(sys.executable).parent

# Generous: a loaded CI machine may be slow to start a process or connect to
# a broker. Tests wait for conditions and never assert how long they took.
DEADLINE = 60.0
POLL = 0.1


class Timeout(AssertionError):
    """A condition did not come true before its deadline."""


def binary(name: str) -> str:
    """Path of a console script installed next to this interpreter."""
    path = BIN_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is not installed; pip install -e .")
    return str(path)


def env() -> dict[str, str]:
    """The environment of a child: ``tests`` importable, output unbuffered."""
    child = dict(os.environ)
    paths = [str(REPO_ROOT)]
    if child.get("PYTHONPATH"):
        paths.append(child["PYTHONPATH"])
    child["PYTHONPATH"] = os.pathsep.join(paths)
    child["PYTHONUNBUFFERED"] = "1"
    return child


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # oslo.config interpolates $name; a literal dollar is written $$.
    return str(value).replace("$", "$$")


def write_config(path: pathlib.Path,
                 sections: dict[str, dict[str, Any]]) -> pathlib.Path:
    """Write an ini file of ``{section: {option: value}}``; return path."""
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_ini_value(value)}"
                     for key, value in options.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def wait_until(predicate: Callable[[], Any], *, what: str,
               timeout: float = DEADLINE, interval: float = POLL,
               diagnose: Callable[[], str] | None = None) -> Any:
    """Poll ``predicate`` until it returns something truthy; return it.

    Raise :class:`Timeout` naming ``what`` (and, with ``diagnose``, what it
    returns, e.g. the tail of a log) when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            detail = f"\n{diagnose()}" if diagnose is not None else ""
            raise Timeout(f"timed out after {timeout:.0f}s waiting for "
                          f"{what}{detail}")
        time.sleep(interval)


def children_of(pid: int) -> set[int]:
    """Pids of the live direct children of ``pid`` (from /proc)."""
    found: set[int] = set()
    task_dir = pathlib.Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.iterdir())
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            text = (task / "children").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found.update(int(child) for child in text.split())
    return {child for child in found if is_alive(child)}


def is_alive(pid: int) -> bool:
    """False for a pid that is gone or a zombie waiting to be reaped."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state follows the parenthesised command name, which may hold spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


class Proc:
    """One started binary, its log file and its exit status."""

    def __init__(self, argv: list[str], log_path: pathlib.Path) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=env(), cwd=str(REPO_ROOT),
            start_new_session=True)
        self.pid = self.popen.pid

    def __repr__(self) -> str:
        return f"<Proc {self.pid} {' '.join(self.argv[1:])}>"

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def running(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signo: int) -> None:
        self.popen.send_signal(signo)

    def children(self) -> set[int]:
        return children_of(self.pid) if self.running() else set()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        tail = self.log().splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + \
            "\n".join(tail)

    def log_lines(self, pattern: str) -> list[str]:
        """Lines of the log matching the regular expression ``pattern``."""
        regex = re.compile(pattern)
        return [line for line in self.log().splitlines() if regex.search(line)]

    def wait_for_log(self, pattern: str, *, count: int = 1,
                     timeout: float = DEADLINE) -> list[str]:
        """Wait until ``count`` log lines match ``pattern``; return them.

        Fails at once, with the log, if the process exits first.
        """
        def matched():
            lines = self.log_lines(pattern)
            if len(lines) >= count:
                return lines
            if not self.running():
                raise AssertionError(
                    f"{self!r} exited with {self.returncode} before logging "
                    f"{pattern!r}\n{self.log_tail()}")
            return None

        return wait_until(matched, what=f"{count} log line(s) {pattern!r}",
                          timeout=timeout, diagnose=self.log_tail)

    def wait(self, timeout: float = DEADLINE) -> int:
        """Wait for the process to exit; return its exit code."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Timeout(f"{self!r} still running after {timeout:.0f}s\n"
                          f"{self.log_tail()}") from None

    def kill_all(self) -> None:
        """SIGKILL this process and everything in its process group."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()


class ProcGroup:
    """The processes one test started; :meth:`cleanup` kills the leftovers."""

    def __init__(self, tmp_path: pathlib.Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[Proc] = []

    def start(self, name: str, args: Iterable[str],
              log_name: str | None = None) -> Proc:
        """Start console script ``name`` with ``args``, logging to a file."""
        log_name = log_name or f"{name}-{len(self.procs)}.log"
        proc = Proc([binary(name), *args], self.tmp_path / log_name)
        self.procs.append(proc)
        return proc

    def restart(self, proc: Proc, log_name: str | None = None) -> Proc:
        """SIGKILL ``proc`` (and its group); start the same command again.

        The new process logs to ``log_name`` (by default a fresh
        ``<name>-N.log``), so the log of the killed one stays readable.
        """
        proc.kill_all()
        name = pathlib.Path(proc.argv[0]).name
        return self.start(name, proc.argv[1:], log_name)

    def cleanup(self) -> None:
        for proc in self.procs:
            proc.kill_all()


def run(name: str, args: Iterable[str], timeout: float = DEADLINE
        ) -> subprocess.CompletedProcess:
    """Run console script ``name`` to completion, capturing its output."""
    return subprocess.run([binary(name), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env(),
                          cwd=str(REPO_ROOT), timeout=timeout)
