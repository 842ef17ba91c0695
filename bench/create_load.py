"""Benchmark 3's client: POST /v1/volumes, then read when each went available.

    python -m bench.create_load --port P --token T --db-url U --duration S \\
        --out result.json

``--concurrency`` threads POST ``{"volume": {"size": 1}}`` over keep-alive
connections, but only while fewer than ``--max-outstanding`` volumes are
still ``creating`` (read from the database every 50 ms): a closed loop with
a bounded backlog, so that the rate is what the whole chain sustains and
the latency is not just time spent queued behind an ever-growing backlog.

Each volume's latency is from the moment its POST was sent (this clock) to
its ``updated_at`` when the worker set it ``available`` (the worker's
clock; the same machine). Plain threads, no eventlet: this is not capstan.
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import threading
import time

import sqlalchemy as sa

BODY = json.dumps({"volume": {"size": 1}})
POLL = 0.05


def utc_epoch(value) -> float:
    """A stored naive UTC timestamp (or its ISO text) as epoch seconds."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value.replace(tzinfo=datetime.timezone.utc).timestamp()


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.engine = sa.create_engine(args.db_url)
        self.deadline = 0.0
        self.creating = 0
        self.lock = threading.Lock()
        self.sent: dict[str, float] = {}
        self.errors: list[str] = []
        self.stop = threading.Event()

    def count_creating(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(*) FROM volumes WHERE status = 'creating' "
                "AND deleted_at IS NULL")).scalar()

    def poller(self) -> None:
        while not self.stop.is_set():
            self.creating = self.count_creating()
            time.sleep(POLL)

    def poster(self) -> None:
        headers = {"X-Auth-Token": self.args.token,
                   "Content-Type": "application/json"}
        connection = http.client.HTTPConnection("127.0.0.1", self.args.port,
                                                timeout=30)
        while time.monotonic() < self.deadline:
            if self.creating >= self.args.max_outstanding:
                time.sleep(0.005)
                continue
            sent_at = time.time()
            try:
                connection.request("POST", "/v1/volumes", BODY, headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                self.errors.append(repr(exc))
                continue
            if response.status != 202:
                self.errors.append(f"{response.status} {body[:120]!r}")
                continue
            volume_id = json.loads(body)["volume"]["id"]
            with self.lock:
                self.sent[volume_id] = sent_at
                # Counted as creating until the next poll sees it.
                self.creating += 1

    def run(self) -> dict:
        started = time.time()
        self.deadline = time.monotonic() + self.args.duration
        threads = [threading.Thread(target=self.poller)] + [
            threading.Thread(target=self.poster)
            for _ in range(self.args.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads[1:]:
            thread.join()
        stopped = time.time()
        drain_deadline = time.monotonic() + self.args.drain
        while self.count_creating() and time.monotonic() < drain_deadline:
            time.sleep(POLL)
        self.stop.set()
        threads[0].join()
        return self.summary(started, stopped)

    def summary(self, started: float, stopped: float) -> dict:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT id, status, updated_at FROM volumes")).all()
        statuses: dict[str, int] = {}
        done_at = {}
        for row in rows:
            statuses[row.status] = statuses.get(row.status, 0) + 1
            if row.status == "available" and row.id in self.sent:
                done_at[row.id] = utc_epoch(row.updated_at)
        latencies = sorted((done_at[i] - self.sent[i]) * 1000.0
                           for i in done_at)
        window_start = started + self.args.warmup
        in_window = sum(1 for t in done_at.values()
                        if window_start <= t <= stopped)
        return {
            "posted": len(self.sent), "post_errors": len(self.errors),
            "first_errors": self.errors[:3], "statuses": statuses,
            "post_rate": len(self.sent) / (stopped - started),
            "window_seconds": stopped - window_start,
            "available_in_window": in_window,
            "volumes_per_second": in_window / (stopped - window_start),
            "latencies_ms": [round(ms, 2) for ms in latencies],
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-outstanding", type=int, default=32)
    parser.add_argument("--drain", type=float, default=60.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = Load(args).run()
    with open(args.out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
