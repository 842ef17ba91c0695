"""HTTP load from outside the server: wrk, or Python clients in processes.

Both keep ``connections`` keep-alive connections busy (closed loop) for a
duration or until a number of requests, over one or several paths in turn,
and report requests/s and latency percentiles. wrk runs one thread (one
core), leaving the other core of a 2-core machine to the server; the Python
client (``bench.pyload``) is the fallback where wrk is not installed. A
ratio is only ever taken between two runs of the same client.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import shutil
import subprocess
import tempfile

from bench import procs
from bench.procs import BenchError

WRK_HINT = ("wrk is not installed; install it for the intended load "
            "generator (Debian/Ubuntu: apt-get install -y wrk) or run with "
            "--client python")


@dataclasses.dataclass
class LoadResult:
    client: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers, socket errors and timeouts

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def pick_client(wanted: str) -> str:
    """``wrk`` or ``python``; ``auto`` takes wrk when installed."""
    have_wrk = shutil.which("wrk") is not None
    if wanted == "wrk" and not have_wrk:
        raise BenchError(WRK_HINT)
    if wanted == "auto":
        if not have_wrk:
            print(f"bench: {WRK_HINT}; falling back to the Python client",
                  flush=True)
        return "wrk" if have_wrk else "python"
    return wanted


def run_load(client: str, port: int, paths: list[str], *, headers: dict,
             duration: float, connections: int,
             max_requests: int = 0) -> LoadResult:
    """Load ``paths`` (in turn) on 127.0.0.1:``port``."""
    if client == "wrk":
        if max_requests:
            return _run_wrk_count(port, paths, headers, connections,
                                  max_requests)
        return _run_wrk(port, paths, headers, duration, connections)
    return _run_python(port, paths, headers, duration, connections,
                       max_requests)


# -- wrk -------------------------------------------------------------------

_LUA = """
local paths = {%(paths)s}
local requests = {}
local i = 0
function init(args)
  for k, path in ipairs(paths) do requests[k] = wrk.format("GET", path) end
end
function request()
  i = i %% #requests + 1
  return requests[i]
end
"""
# wrk runs for whole seconds; a count is reached in chunks of at most this.
WRK_CHUNK = 10


def _run_wrk_count(port: int, paths: list[str], headers: dict,
                   connections: int, max_requests: int) -> LoadResult:
    """Run wrk in chunks until ``max_requests`` are done (overshoot: at
    most the last second's requests); merge the chunks."""
    chunks: list[LoadResult] = []
    done, rate = 0, 0.0
    while done < max_requests:
        seconds = 1 if not rate else min(
            WRK_CHUNK, max(1, int((max_requests - done) / rate + 0.5)))
        chunk = _run_wrk(port, paths, headers, seconds, connections)
        chunks.append(chunk)
        done += chunk.requests
        rate = max(chunk.rps, 1.0)
    seconds = sum(c.seconds for c in chunks)

    def weighted(field: str) -> float:
        return sum(getattr(c, field) * c.requests for c in chunks) / done

    return LoadResult("wrk", done, seconds, done / seconds,
                      weighted("p50_ms"), weighted("p90_ms"),
                      max(c.p99_ms for c in chunks),
                      sum(c.errors for c in chunks))


def _run_wrk(port: int, paths: list[str], headers: dict, duration: float,
             connections: int) -> LoadResult:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s",
            "--latency", "--timeout", "30s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua",
                                     delete=False) as script:
        script.write(_LUA % {
            "paths": ", ".join(json.dumps(p) for p in paths)})
    argv += ["-s", script.name, f"http://127.0.0.1:{port}{paths[0]}"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True,
                                timeout=duration + 120)
    finally:
        pathlib.Path(script.name).unlink()
    if result.returncode != 0:
        raise BenchError(f"wrk failed: {result.stderr.strip()[:300]}")
    return parse_wrk(result.stdout)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(out: str) -> LoadResult:
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not total:
        raise BenchError(f"cannot read wrk output: {out[-300:]}")
    seconds = _ms(total.group(2) + total.group(3)) / 1000.0
    requests = int(total.group(1))
    percentiles = {p: _ms(v) for p, v in re.findall(
        r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), "
                              r"write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return LoadResult("wrk", requests, seconds, requests / seconds,
                      percentiles.get("50", 0.0), percentiles.get("90", 0.0),
                      percentiles.get("99", 0.0), errors)


# -- Python client -----------------------------------------------------------

PY_PROCESSES = 2


def _run_python(port: int, paths: list[str], headers: dict, duration: float,
                connections: int, max_requests: int) -> LoadResult:
    processes = min(PY_PROCESSES, connections)
    children = []
    for index in range(processes):
        share = connections // processes + (index < connections % processes)
        argv = [procs.PYTHON, "-m", "bench.pyload", "--port", str(port),
                "--duration", str(duration), "--connections", str(share),
                "--max-requests", str(max_requests // processes),
                "--headers", json.dumps(headers), *paths]
        children.append(subprocess.Popen(argv, stdout=subprocess.PIPE,
                                         text=True, env=procs.child_env(),
                                         cwd=str(procs.TREE)))
    outputs = [json.loads(child.communicate(timeout=duration + 600)[0])
               for child in children]
    latencies = sorted(ms for out in outputs for ms in out["latencies_ms"])
    requests = sum(out["requests"] for out in outputs)
    seconds = max(out["seconds"] for out in outputs)
    return LoadResult("python", requests, seconds, requests / seconds,
                      percentile(latencies, 50), percentile(latencies, 90),
                      percentile(latencies, 99),
                      sum(out["errors"] for out in outputs))


def percentile(ordered: list[float], pct: float) -> float:
    """The ``pct`` percentile of an ascending list (nearest rank)."""
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1,
                      int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]
