"""The access log: one INFO line per request, written off the request path.

A request only builds its LogRecord (with the current request context, so
the line keeps its request id) and appends it to a bounded queue. A writer,
run by :class:`capstan.common.wsgi.Server` in its own green thread, sleeps
until a line arrives, lets ``interval`` seconds' worth gather, and hands
the records to the handlers of the logger, as ``Logger.handle`` would: the
logger's level, filters, handlers, their levels and formatters all apply. What the batch saves is
per-line overhead: each handler's lock is taken once per chunk of lines
(under eventlet, oslo.log's lock is a pipe: two system calls), and a plain
stream or (watched) file handler checks its file and flushes once per chunk.

NOTE(capstan): when the queue is full (the handlers cannot keep up, e.g. a
stalled disk), new lines are dropped, never waited for: a request does not
block on logging. The writer counts them and logs one WARNING with the
count. :meth:`AccessLog.close` writes out everything queued, so nothing is
lost at a clean stop. Appending to and popping from a deque are atomic, so
the queue is correct under real threads as well as green ones.
"""
from __future__ import annotations

import collections
import logging
import logging.handlers
import threading
import time
from typing import Iterable

from oslo_context import context as oslo_context

#: Lines held at most; about 1.5 KiB each.
MAX_PENDING = 4096
#: Seconds between two drains of the queue.
INTERVAL = 0.05
#: Lines written under one handler lock; the writer yields between chunks,
#: so a backlog does not stall the other green threads for long.
CHUNK = 64

# Handlers whose emit() is exactly StreamHandler's (after the file check of
# WatchedFileHandler): their lines can be written as a block, flushed once.
_STREAM_TYPES = (logging.StreamHandler, logging.FileHandler,
                 logging.handlers.WatchedFileHandler)


class AccessLog:
    """A bounded queue of access lines in front of ``logger``."""

    def __init__(self, logger: logging.Logger, *,
                 max_pending: int = MAX_PENDING, interval: float = INTERVAL,
                 chunk: int = CHUNK) -> None:
        self._logger = logger
        self._max_pending = max_pending
        self._interval = interval
        self._chunk = chunk
        self._pending: collections.deque[logging.LogRecord] = (
            collections.deque())
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._closed = threading.Event()
        # Set when a line arrives in an empty queue: the writer sleeps on
        # it instead of waking every interval while nothing is logged.
        self._wakeup = threading.Event()

    @property
    def dropped(self) -> int:
        """Lines dropped so far because the queue was full."""
        return self._dropped

    def line(self, text: str) -> None:
        """Queue ``text`` as one INFO line of the current request."""
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        if len(self._pending) >= self._max_pending:
            with self._drop_lock:
                self._dropped += 1
            return
        # NOTE(capstan): built without Logger.findCaller (the caller is
        # always this line); the context is read now, on the request's own
        # thread, because the writer formats the line on another.
        record = logger.makeRecord(logger.name, logging.INFO, __file__, 0,
                                   "%s", (text,), None, "line")
        record.context = oslo_context.get_current()
        self._pending.append(record)
        if not self._wakeup.is_set():
            self._wakeup.set()

    def run(self) -> None:
        """Write queued lines until :meth:`close`, then the rest."""
        while not self._closed.is_set():
            self._wakeup.wait()
            # A line came: let an interval's worth gather, then write.
            self._closed.wait(self._interval)
            # Cleared before the flush: a line queued after it sets it
            # again and is written on the next round.
            self._wakeup.clear()
            self.flush()
        self.flush()

    def close(self) -> None:
        """Make :meth:`run` write what is queued and return."""
        self._closed.set()
        self._wakeup.set()

    def reopen(self) -> None:
        """Let :meth:`run` be started again after :meth:`close`."""
        self._closed.clear()
        self._wakeup.clear()

    def flush(self) -> None:
        """Write every queued line now, in chunks."""
        self._report_dropped()
        while self._pending:
            batch = []
            try:
                while len(batch) < self._chunk:
                    batch.append(self._pending.popleft())
            except IndexError:
                pass  # emptied
            try:
                handle_batch(self._logger, batch)
            except Exception:
                # A failing filter or handler loses its chunk, not the rest.
                self._logger.exception("access log: writing lines failed")
            if self._pending:
                time.sleep(0)  # let requests run between two chunks

    def _report_dropped(self) -> None:
        if not self._dropped:
            return
        with self._drop_lock:
            dropped, self._dropped = self._dropped, 0
        self._logger.warning("access log: %d lines dropped, more than %d "
                             "were waiting to be written", dropped,
                             self._max_pending)


def handle_batch(logger: logging.Logger,
                 records: list[logging.LogRecord]) -> None:
    """Pass ``records`` to the handlers of ``logger`` and its parents.

    What ``Logger.handle`` does for each record, except that each handler
    is locked once for all of them.
    """
    if logger.disabled:
        return
    records = _filtered(logger, records)
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            _emit(handler, [r for r in records if r.levelno >= handler.level])
        current = current.parent if current.propagate else None
    if not found and logging.lastResort is not None:
        _emit(logging.lastResort,
              [r for r in records if r.levelno >= logging.lastResort.level])


def _emit(handler: logging.Handler,
          records: Iterable[logging.LogRecord]) -> None:
    records = _filtered(handler, records)
    if not records:
        return
    handler.acquire()
    try:
        stream = getattr(handler, "stream", None)
        if type(handler) in _STREAM_TYPES and stream is not None:
            _write_stream(handler, records)
        else:
            for record in records:
                handler.emit(record)
    finally:
        handler.release()


def _filtered(filterer: logging.Filterer,
              records: Iterable[logging.LogRecord]) -> list[logging.LogRecord]:
    # Since Python 3.12 a filter may return a record to use instead.
    kept = []
    for record in records:
        result = filterer.filter(record)
        if isinstance(result, logging.LogRecord):
            kept.append(result)
        elif result:
            kept.append(record)
    return kept


def _write_stream(handler: logging.StreamHandler,
                  records: list[logging.LogRecord]) -> None:
    # StreamHandler.emit for each record, with one file check and one flush.
    if isinstance(handler, logging.handlers.WatchedFileHandler):
        handler.reopenIfNeeded()
    for record in records:
        try:
            handler.stream.write(handler.format(record) + handler.terminator)
        except RecursionError:
            raise
        except Exception:
            handler.handleError(record)
    handler.flush()
