"""The Python load client (when wrk is missing): one process of it.

    python -m bench.pyload --port P --duration S --connections C PATH...

Each of C threads keeps one keep-alive ``http.client`` connection busy,
GETting the paths in turn, until the duration is up or the process has
made ``--max-requests``. Prints JSON: requests, seconds, errors, and every
latency in milliseconds. Plain threads, no eventlet: this is not capstan.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=0)
    parser.add_argument("--headers", default="{}")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    headers = json.loads(args.headers)
    deadline = time.monotonic() + args.duration
    budget = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", args.port,
                                                timeout=30)
        mine = []
        for path in itertools.cycle(args.paths):
            if time.monotonic() >= deadline:
                break
            if args.max_requests and next(budget) >= args.max_requests:
                break
            start = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status < 400
            except (OSError, http.client.HTTPException):
                connection.close()
                ok = False
            mine.append((time.perf_counter() - start) * 1000.0)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker)
               for _ in range(args.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    print(json.dumps({"requests": len(latencies), "seconds": seconds,
                      "errors": errors[0],
                      "latencies_ms": [round(ms, 3) for ms in latencies]}))


if __name__ == "__main__":
    main()
