"""Processes the bench starts: servers, load generators, helpers.

Each runs in its own session with its output in a log file under the run's
work directory; :meth:`Proc.stop` sends SIGTERM and then SIGKILLs the
process group, so nothing outlives the bench (ideas from
tests/integration/procs.py, which a benchmark must not import).
"""
from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Callable

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# The capstan checkout the servers run from (``--tree``): this one unless
# a patched copy is being compared against it. Its api/, common/ and
# worker/ come first on the children's path; bench/ stays this one's.
TREE = REPO_ROOT
BIN_DIR = pathlib.Path(sys.executable).parent
PYTHON = sys.executable


class BenchError(Exception):
    """A benchmark could not run; the message says why, on one line."""


def binary(name: str) -> str:
    """Path of a console script installed next to this interpreter."""
    path = BIN_DIR / name
    if not path.exists():
        raise BenchError(f"{path} is missing: run the bench with the "
                         "interpreter of the venv capstan is installed in "
                         "(pip install -e '.[bench]')")
    return str(path)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: ``bench`` importable, output unbuffered."""
    env = dict(os.environ)
    paths = list(dict.fromkeys([str(TREE), str(REPO_ROOT)]))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1 (servers bind it next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU since boot, from /proc/stat."""
    first = pathlib.Path("/proc/stat").read_text().split("\n")[0]
    fields = [int(n) for n in first.split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of the machine's CPU time that was busy between two reads."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def wait_until(predicate: Callable[[], Any], *, what: str,
               timeout: float = 60.0, interval: float = 0.05,
               proc: "Proc | None" = None) -> Any:
    """Poll ``predicate`` until truthy; BenchError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if proc is not None and not proc.running():
            raise BenchError(f"{proc.name} exited ({proc.returncode}) "
                             f"while waiting for {what}; see {proc.log_path}"
                             f"\n{proc.log_tail()}")
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for "
                             f"{what}")
        time.sleep(interval)


class Proc:
    """One started process, its log file and its resident memory."""

    def __init__(self, name: str, argv: list[str], log_path: pathlib.Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=env or child_env(),
            cwd=str(TREE), start_new_session=True)
        self.pid = self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def running(self) -> bool:
        return self.popen.poll() is None

    def rss_mb(self) -> float:
        """Resident set size now, in MiB (VmRSS of /proc/<pid>/status)."""
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text(
                ).splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        raise BenchError(f"no VmRSS for {self.name} ({self.pid})")

    def cpu_seconds(self) -> float:
        """CPU time used so far (user + system), from /proc/<pid>/stat."""
        stat = pathlib.Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{self.name} still running after "
                             f"{timeout:.0f}s; see {self.log_path}") from None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL the whole group."""
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
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
    """Every process of one benchmark; :meth:`stop_all` ends them all."""

    def __init__(self, workdir: pathlib.Path) -> None:
        self.workdir = workdir
        self.procs: list[Proc] = []

    def start(self, name: str, argv: list[str],
              env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, argv, self.workdir / f"{name}.log", env)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs = []

    def __enter__(self) -> "ProcGroup":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop_all()


def run(argv: list[str], timeout: float = 120.0, **env: str) -> str:
    """Run a command to completion; return stdout, BenchError on failure."""
    result = subprocess.run(argv, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True,
                            env=child_env(**env), cwd=str(TREE),
                            timeout=timeout)
    if result.returncode != 0:
        raise BenchError(f"{' '.join(argv[:4])} failed "
                         f"({result.returncode}): "
                         f"{(result.stderr or result.stdout).strip()[-400:]}")
    return result.stdout
