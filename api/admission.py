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
- **a wait**, ``[api] max_create_wait``: rows created more than that
  many seconds ago and still ``creating`` are late: the queue's head has
  waited longer than the bound, whatever rate the workers drain at. From
  ``MIN_LATE`` of them on, the share of new creates refused is the late
  rows' share of the backlog: a little late, a few refused; a queue that
  keeps growing, more and more, up to all. Refusing a share rather than
  everything keeps the workers fed: the queue settles where the bound is
  just held, and the workers never run dry between two reads. Rows older
  than twice the bound plus ``STUCK_AFTER`` seconds are left out: a row
  stuck on a dead host, or a create that is slow on its own, stops
  counting after a while and never sheds for good. (The horizon must
  reach past the queue: a shorter one would see only the gap that
  shedding left.)

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

# A few late rows (stuck on a dead host, or slow creates) shed nothing;
# this many are a queue.
MIN_LATE = 8
# Seconds past twice the wait bound after which a row still creating is
# taken for stuck rather than queued.
STUCK_AFTER = 10.0


class Backlog(NamedTuple):
    """One read of a resource's creates."""

    creating: int
    """Rows in ``creating`` now."""
    late: int = 0
    """Of those, the ones created between the horizon and
    ``max_create_wait`` seconds ago."""


class Admission:
    """The backlog bounds of one resource's creates in this process.

    ``read(max_wait, horizon)`` reads the :class:`Backlog`, counting as
    late the rows created between ``horizon`` and ``max_wait`` seconds
    ago (a horizon of 0: no wait bound, count only).
    """

    def __init__(self, what: str, read: Callable[[float, float], Backlog],
                 *, limit: int, refresh: float, max_wait: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.limit = limit
        self.max_wait = max_wait
        self.refresh = refresh
        self.horizon = 2 * max_wait + STUCK_AFTER if max_wait > 0 else 0.0
        self._read = read
        self._clock = clock
        self._lock = threading.Lock()
        self._backlog = 0
        self._shed_share = 0.0  # of creates, for being late
        self._shed_debt = 0.0   # refusals owed: +share per create
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
            self._shed_debt += self._shed_share
            if self._shed_debt >= 1.0:
                self._shed_debt -= 1.0
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
            backlog = self._read(self.max_wait, self.horizon)
        except exception.ServiceUnavailable:
            # The create would fail on the database anyway; let it say so.
            backlog = None
        finally:
            with self._lock:
                self._reading = False
        if backlog is None:
            return
        share = 0.0
        if self.max_wait > 0 and backlog.late >= MIN_LATE:
            share = min(1.0, backlog.late / max(1, backlog.creating))
        with self._lock:
            # What was admitted while the count ran may not be in it yet.
            self._backlog = backlog.creating + self._admitted - admitted_before
            was_late, self._shed_share = self._shed_share > 0, share
            if not share:
                self._shed_debt = 0.0
            self._read_at = self._clock()
        if 0 < self.limit <= backlog.creating:
            LOG.warning("%d %s being created, the bound is %d: shedding "
                        "new creates", backlog.creating, self.what,
                        self.limit)
        if share and not was_late:
            LOG.warning("%d of the %d %s being created were created more "
                        "than %gs ago: shedding %d%% of new creates",
                        backlog.late, backlog.creating, self.what,
                        self.max_wait, round(100 * share))
