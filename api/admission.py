"""Load shedding: refuse new creates while the backlog is over its bound.

When more is asked of a deployment than its workers do, the rows waiting
in ``creating`` pile up and every answer gets slower, with no signal to
the client to back off. :class:`Admission` keeps one resource's creates
under two bounds, both read from the database (so true across several
api-servers) at most once per ``[api] admission_refresh_interval``:

- **a count**, ``[api] max_creating``: the rows in ``creating``. Each
  admission between two reads is added to the count locally, so a burst
  inside one interval is bounded too. (One admitted while the count runs
  may be in it already and is then counted twice: the bound errs on the
  safe side.)
- **a wait**, ``[api] max_create_wait``: of the rows created about that
  many seconds ago (a slice of one interval around it), more than half
  are still ``creating``. That is, a typical create now takes longer than
  the bound, whatever the rate the workers drain at. A few rows stuck on
  a dead host or a few slow creates are a minority of the slice and shed
  nothing; a queue makes every row of the slice late.

Over either bound, :meth:`Admission.admit` raises ``Overloaded`` (503 with
``Retry-After``) before the request touches the database; nothing refused
leaves a row.

The state is shared by the green threads (or real threads) of one
process under a lock; the read itself runs outside it, by whichever
request finds the state stale first, while the others use the last one.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable, NamedTuple

from capstan.common import exception

LOG = logging.getLogger(__name__)

# Fewer rows than this in the slice say nothing about the wait: at such a
# rate a queue is not what slows creates down.
MIN_SAMPLE = 8


class Backlog(NamedTuple):
    """One read of a resource's creates."""

    creating: int
    """Rows in ``creating`` now."""
    sampled: int = 0
    """Rows created around ``max_create_wait`` seconds ago."""
    still_creating: int = 0
    """Of those, the ones still in ``creating``."""


class Admission:
    """The backlog bounds of one resource's creates in this process.

    ``read(window)`` reads the :class:`Backlog`, its slice ``window``
    seconds wide (0: no slice wanted).
    """

    def __init__(self, what: str, read: Callable[[float], Backlog], *,
                 limit: int, refresh: float, max_wait: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.limit = limit
        self.max_wait = max_wait
        self.refresh = refresh
        # NOTE(capstan): the slice is one interval wide (each read looks
        # at rows the last one did not), but never wider than the wait,
        # or it would reach rows too young to be late.
        self.window = min(refresh, max_wait)
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._backlog = 0
        self._late = False
        self._admitted = 0  # ever, in this process
        self._read_at = -math.inf
        self._reading = False
        self.retry_after = max(1, math.ceil(refresh))

    def admit(self) -> None:
        """Count one more create in, or raise Overloaded."""
        if self.limit <= 0 and self.max_wait <= 0:
            return
        self._refresh_if_stale()
        with self._lock:
            if self._late:
                raise exception.Overloaded(
                    f"Creates of {self.what} take longer than "
                    f"{self.max_wait:g} s (the bound); try again in "
                    f"{self.retry_after} s.", retry_after=self.retry_after)
            if 0 < self.limit <= self._backlog:
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
            backlog = self._read(self.window if self.max_wait > 0 else 0.0)
        except exception.ServiceUnavailable:
            # The create would fail on the database anyway; let it say so.
            backlog = None
        finally:
            with self._lock:
                self._reading = False
        if backlog is None:
            return
        late = (self.max_wait > 0 and backlog.sampled >= MIN_SAMPLE
                and 2 * backlog.still_creating > backlog.sampled)
        with self._lock:
            # What was admitted while the count ran may not be in it yet.
            self._backlog = backlog.creating + self._admitted - admitted_before
            was_late, self._late = self._late, late
            self._read_at = self._clock()
        if 0 < self.limit <= backlog.creating:
            LOG.warning("%d %s being created, the bound is %d: shedding "
                        "new creates", backlog.creating, self.what,
                        self.limit)
        if late and not was_late:
            LOG.warning("%d of the %d %s created %gs ago are still being "
                        "created: shedding new creates", backlog.still_creating,
                        backlog.sampled, self.what, self.max_wait)
