"""Sampling profiles of a running server with py-spy (``--profile``).

py-spy attaches to the process from outside (no change to the server),
samples its Python stacks while the load runs, and writes them collapsed
(``<frame>;<frame>;... <count>``). :func:`summarize` turns that into the
functions that hold the most samples, inclusive and self. Install with
``pip install -e '.[bench]'``.
"""
from __future__ import annotations

import collections
import pathlib
import re
import shutil
import subprocess

from bench import procs

TOP = 12
# Frames that sit on every stack and say nothing about where time goes.
_SKIP = re.compile(r"^(GreenThread\.main|Server\.process_request|"
                   r"HttpProtocol\.(__init__|handle) |<module>)")


def py_spy() -> str | None:
    path = procs.BIN_DIR / "py-spy"
    return str(path) if path.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: pathlib.Path) -> subprocess.Popen:
    """Sample ``pid`` for ``seconds`` in the background."""
    exe = py_spy()
    if exe is None:
        raise procs.BenchError("py-spy is not installed: pip install -e "
                               "'.[bench]' (or drop --profile)")
    return subprocess.Popen(
        [exe, "record", "-p", str(pid), "-d", str(max(1, round(seconds))),
         "-r", "200", "-f", "raw", "--nonblocking", "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    match = re.match(r"(.*) \((?:.*/)?([^/:]+):\d+\)$", frame)
    return f"{match.group(1)} ({match.group(2)})" if match else frame


def summarize(path: pathlib.Path) -> dict:
    """Top functions by inclusive and self share of the samples."""
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_short(f) for f in stack.split(";")]
        total += int(count)
        for frame in set(frames):
            if not _SKIP.match(frame):
                inclusive[frame] += int(count)
        own[frames[-1]] += int(count)
    if not total:
        return {"samples": 0, "inclusive": [], "self": []}

    def top(counter: collections.Counter) -> list:
        return [[name, round(100.0 * n / total, 1)]
                for name, n in counter.most_common(TOP)]

    return {"samples": total, "inclusive": top(inclusive), "self": top(own)}
