"""Benchmark 9's client: creates arriving on a schedule (open loop).

    python -m bench.open_loop --port P --token T --db-url U --rate R \\
        --duration S --out result.json

Create ``i`` is due at ``start + i / rate`` whatever happened to the ones
before it: the schedule does not wait for answers. ``--senders`` threads
(each with its own keep-alive connection) take the due creates in order
and POST ``{"volume": {"size": 1}}``; a create that finds every sender
busy waits, and that wait counts. Every latency is measured from when the
create was due (no coordinated omission): accept latency to the API's
answer, create-to-available to the volume's ``updated_at`` when the
worker set it ``available`` (same machine, same clock).

The backlog (volumes in ``creating``) is sampled every 0.5 s from the
database. After the schedule ends, the run waits up to ``--drain`` s for
the backlog to empty, and reports what was left at the schedule's end.
Plain threads, no eventlet: this is not capstan.
"""
from __future__ import annotations

import argparse
import http.client
import json
import queue
import threading
import time

import sqlalchemy as sa

from bench.create_load import utc_epoch
from bench.loadgen import percentile

BODY = json.dumps({"volume": {"size": 1}})
SAMPLE = 0.5


class OpenLoop:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.engine = sa.create_engine(args.db_url, pool_size=2)
        self.due: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        # id -> due (epoch); and every answer: (due, answered, status).
        self.accepted: dict[str, float] = {}
        self.answers: list[tuple[float, float, int]] = []
        self.errors: list[str] = []
        self.backlog: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def count_creating(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(*) FROM volumes WHERE status = 'creating' "
                "AND deleted_at IS NULL")).scalar_one()

    def sampler(self, started: float) -> None:
        while not self.stop.is_set():
            self.backlog.append((round(time.time() - started, 2),
                                 self.count_creating()))
            self.stop.wait(SAMPLE)

    def sender(self) -> None:
        headers = {"X-Auth-Token": self.args.token,
                   "Content-Type": "application/json"}
        connection = http.client.HTTPConnection("127.0.0.1", self.args.port,
                                                timeout=60)
        while True:
            due = self.due.get()
            if due is None:
                return
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            try:
                connection.request("POST", "/v1/volumes", BODY, headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                with self.lock:
                    self.errors.append(repr(exc))
                continue
            answered = time.time()
            # Shed: a 503 with Retry-After; any other answer is an error.
            shed = (response.status == 503
                    and response.getheader("Retry-After") is not None)
            with self.lock:
                if response.status == 202:
                    self.answers.append((due, answered, 202))
                    self.accepted[json.loads(body)["volume"]["id"]] = due
                elif shed:
                    self.answers.append((due, answered, 503))
                else:
                    self.errors.append(f"{response.status} {body[:120]!r}")

    def run(self) -> dict:
        senders = [threading.Thread(target=self.sender, daemon=True)
                   for _ in range(self.args.senders)]
        for thread in senders:
            thread.start()
        started = time.time() + 0.2
        sampler = threading.Thread(target=self.sampler, args=(started,))
        sampler.start()
        total = int(self.args.rate * self.args.duration)
        for i in range(total):
            due = started + i / self.args.rate
            # Hand it over just before it is due, so a sender is free to
            # take it on time if one is idle.
            pause = due - time.time() - 0.001
            if pause > 0:
                time.sleep(pause)
            self.due.put(due)
        ended = started + total / self.args.rate
        for _ in senders:
            self.due.put(None)
        for thread in senders:
            thread.join()
        at_end = self.count_creating()
        drain_deadline = time.monotonic() + self.args.drain
        while self.count_creating() and time.monotonic() < drain_deadline:
            time.sleep(SAMPLE)
        self.stop.set()
        sampler.join()
        return self.summary(started, ended, at_end)

    def summary(self, started: float, ended: float, at_end: int) -> dict:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT id, status, updated_at FROM volumes")).all()
        done = {row.id: utc_epoch(row.updated_at) for row in rows
                if row.status == "available" and row.id in self.accepted}
        statuses: dict[str, int] = {}
        for row in rows:
            if row.id in self.accepted:
                statuses[row.status] = statuses.get(row.status, 0) + 1
        seconds = ended - started
        accept_ms = sorted((answered - due) * 1000.0
                           for due, answered, status in self.answers
                           if status == 202)
        shed_ms = sorted((answered - due) * 1000.0
                         for due, answered, status in self.answers
                         if status == 503)
        available_ms = sorted((done[i] - self.accepted[i]) * 1000.0
                              for i in done)
        in_window = sum(1 for t in done.values() if started <= t <= ended)
        return {
            "rate": self.args.rate, "seconds": round(seconds, 2),
            "sent": len(self.answers) + len(self.errors),
            "accepted": len(self.accepted),
            "rejected": len(shed_ms), "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "accepted_per_s": round(len(self.accepted) / seconds, 2),
            "rejected_per_s": round(len(shed_ms) / seconds, 2),
            "available_per_s": round(in_window / seconds, 2),
            "statuses": statuses,
            "accept_ms": _percentiles(accept_ms),
            "shed_ms": _percentiles(shed_ms),
            "available_ms": _percentiles(available_ms),
            "backlog": self.backlog, "backlog_at_end": at_end,
        }


def _percentiles(values: list[float]) -> dict:
    """p50, p99, p99.9 and max of an ascending list (nearest rank)."""
    if not values:
        return {}
    return {"p50": round(percentile(values, 50), 2),
            "p99": round(percentile(values, 99), 2),
            "p99.9": round(percentile(values, 99.9), 2),
            "max": round(values[-1], 2), "count": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--senders", type=int, default=64)
    parser.add_argument("--drain", type=float, default=120.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = OpenLoop(args).run()
    with open(args.out, "w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main()
