"""Load shedding: refuse new creates while the backlog is over its bound.

When more is asked of a deployment than its workers do, the rows waiting
in ``creating`` pile up and every answer gets slower, with no signal to
the client to back off. :class:`Admission` keeps one resource's backlog
under ``[api] max_creating``: the count of its rows in ``creating`` is
read from the database at most once per ``admission_refresh_interval``
(one ``COUNT`` per resource and api-server process, true across several
api-servers since it is the database's), and each admission between two
reads is added to it locally, so a burst inside one interval is bounded
too. Over the bound, :meth:`Admission.admit` raises ``Overloaded`` (503
with ``Retry-After``) before the request touches the database; nothing
refused leaves a row.

The count is shared by the green threads (or real threads) of one
process under a lock; the read itself runs outside it, by whichever
request finds the count stale first, while the others use the last one.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable

from capstan.common import exception

LOG = logging.getLogger(__name__)


class Admission:
    """The backlog bound of one resource's creates in this process."""

    def __init__(self, what: str, count: Callable[[], int], *, limit: int,
                 refresh: float, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.what = what
        self.limit = limit
        self.refresh = refresh
        self._count = count
        self._clock = clock
        self._lock = threading.Lock()
        self._backlog = 0
        self._admitted = 0  # ever, in this process
        self._read_at = -math.inf
        self._reading = False
        self.retry_after = max(1, math.ceil(refresh))

    def admit(self) -> None:
        """Count one more create in, or raise Overloaded."""
        if self.limit <= 0:
            return
        self._refresh_if_stale()
        with self._lock:
            if self._backlog >= self.limit:
                raise exception.Overloaded(
                    count=self._backlog, what=self.what, limit=self.limit,
                    retry_after=self.retry_after)
            self._backlog += 1
            self._admitted += 1

    def _refresh_if_stale(self) -> None:
        with self._lock:
            if (self._reading
                    or self._clock() - self._read_at < self.refresh):
                return
            self._reading = True
            admitted_before = self._admitted
        try:
            backlog = self._count()
        except exception.ServiceUnavailable:
            # The create would fail on the database anyway; let it say so.
            backlog = None
        finally:
            with self._lock:
                self._reading = False
        if backlog is None:
            return
        with self._lock:
            # What was admitted while the count ran may not be in it yet.
            self._backlog = backlog + self._admitted - admitted_before
            self._read_at = self._clock()
        if backlog >= self.limit:
            LOG.warning("%d %s being created, the bound is %d: shedding "
                        "new creates", backlog, self.what, self.limit)
