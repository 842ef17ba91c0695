"""A bench-only paste filter that counts the SQL each request sends.

Put first in a pipeline (benchmark 5 writes such a paste file)::

    [filter:querycount]
    paste.filter_factory = bench.querycount:filter_factory

It listens to SQLAlchemy's ``before_cursor_execute`` on the API's engine
(every statement SQLAlchemy sends through a cursor, whatever the code path)
and to the pool's ``checkout`` (on PostgreSQL each checkout is also a
``pool_pre_ping`` round trip, which no cursor event sees). Counts are kept
per green thread, so the heartbeat and periodic tasks of other green
threads are not charged to a request. Each response gets a header
``X-Bench-Queries: <statements> <checkouts>``; the statements of the first
requests are logged.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

import greenlet
import sqlalchemy as sa

LOG = logging.getLogger(__name__)
HEADER = "X-Bench-Queries"
LOGGED_REQUESTS = 3


class QueryCounter:
    """Statements and pool checkouts per green thread."""

    def __init__(self, engine: sa.Engine) -> None:
        self._running: dict[Any, list] = {}
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine.pool, "checkout", self._checkout)

    def begin(self) -> list:
        counts = [0, 0, []]  # statements, checkouts, SQL texts
        self._running[greenlet.getcurrent()] = counts
        return counts

    def end(self) -> None:
        self._running.pop(greenlet.getcurrent(), None)

    def _statement(self, conn, cursor, statement, parameters, context,
                   executemany) -> None:
        counts = self._running.get(greenlet.getcurrent())
        if counts is not None:
            counts[0] += 1
            counts[2].append(" ".join(statement.split())[:200])

    def _checkout(self, dbapi_connection, record, proxy) -> None:
        counts = self._running.get(greenlet.getcurrent())
        if counts is not None:
            counts[1] += 1


class QueryCountFilter:
    def __init__(self, app: Callable, counter: QueryCounter) -> None:
        self.app = app
        self.counter = counter
        self.logged = 0

    def __call__(self, environ: dict,
                 start_response: Callable) -> Iterable[bytes]:
        counts = self.counter.begin()

        def counting_start_response(status, headers, exc_info=None):
            headers = list(headers) + [(HEADER, f"{counts[0]} {counts[1]}")]
            if self.logged < LOGGED_REQUESTS:
                self.logged += 1
                LOG.info("querycount %s: %d statements, %d checkouts: %s",
                         environ.get("PATH_INFO"), counts[0], counts[1],
                         " | ".join(counts[2]))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, counting_start_response)
        finally:
            self.counter.end()


def filter_factory(global_conf: dict, **local_conf: str) -> Callable:
    deps = global_conf["capstan_deps"]
    counter = QueryCounter(deps.db.engine)
    return lambda app: QueryCountFilter(app, counter)


def paste_file(source: str) -> str:
    """``source`` (an api-paste.ini) with querycount first in /v1."""
    lines = []
    for line in source.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() in ("noauth", "token") and \
                "request_id" in value:
            line = f"{key}= querycount{value}"
        lines.append(line)
    lines += ["", "[filter:querycount]",
              "paste.filter_factory = bench.querycount:filter_factory", ""]
    return "\n".join(lines)
