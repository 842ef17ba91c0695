"""A worker's side of a resource: the rows placed on its host.

Every step a worker takes on a row is guarded by compare-and-swap on
(status, host): a duplicate or stale cast finds the row moved on and
changes nothing, and a restart can finish or roll back what was in flight
(:meth:`HostRows.transitional`, read in the Manager's ``init_host``). A
row that ends (deleted, or failed before it held anything) gives back
what it claimed in the same transaction (``release=True``), so a
duplicate end frees nothing twice.

Used from a Manager::

    self.things = HostRows(self.db, THINGS, self.host, self.placement)

    thing = self.things.own(thing_id, "creating")
    if thing is None:
        return                      # not this host's, or moved on
    try:
        self.driver.create_thing(thing.id)
    except Exception as exc:
        self.things.fail(thing.id, "creating", "create", exc, release=True)
    else:
        self.things.finish(thing.id, "creating", status="available")
"""
from __future__ import annotations

import datetime
import logging
from typing import Any, Callable

from capstan.common.db.api import Database
from capstan.common.db.placement import Placement
from capstan.common.db.rows import Rows

LOG = logging.getLogger(__name__)

# step(..., done=DELETED): the work removed it; soft-delete the row.
DELETED = "deleted"


class HostRows:
    """The rows of ``rows`` whose ``host`` is ``host``."""

    def __init__(self, db: Database, rows: Rows, host: str,
                 placement: Placement | None = None) -> None:
        self.db = db
        self.rows = rows
        self.host = host
        self.placement = placement
        self.name = rows.model.__name__.lower()

    def own(self, row_id: str, status: str) -> tuple | None:
        """The row if it is this host's and in ``status``; else None
        (logged: a duplicate or stale cast)."""
        row = self.rows.state(self.db, row_id)
        if row is None:
            LOG.info("%s %s is gone; nothing to do", self.name, row_id)
            return None
        if row.host != self.host or row.status != status:
            LOG.info("%s %s is %s on %s, not %s here; ignoring", self.name,
                     row_id, row.status, row.host, status)
            return None
        return row

    def transitional(self, statuses: tuple[str, ...]) -> list[Any]:
        """This host's rows in ``statuses``, oldest first: what a restart
        finds in flight."""
        return self.rows.find(self.db, host=self.host, status=statuses)

    def step(self, row_id: str, status: str, action: str,
             work: Callable[[Any], Any], *,
             done: dict[str, Any] | str, failed: str = "error",
             release_failed: bool = False) -> bool:
        """One worker step on a row of this host's in ``status``: run
        ``work(row)``, then set ``done`` (or, for :data:`DELETED`,
        soft-delete it and release its claim); if the work raises, the
        row goes to ``failed`` with a fault (``release_failed``: and gives
        its claim back). Returns whether the work ran and succeeded."""
        row = self.own(row_id, status)
        if row is None:
            return False
        try:
            work(row)
        except Exception as exc:
            self.fail(row_id, status, action, exc, status=failed,
                      release=release_failed)
            return False
        if done == DELETED:
            self.delete(row_id, status)
        else:
            self.finish(row_id, status, **done)
        LOG.info("%s %s: %s done", self.name, row_id, action)
        return True

    def resume(self, handlers: dict[str, Callable[[Any], Any]], *,
               older_than: float = 0) -> None:
        """Call ``handlers[status](row)`` for each row of this host's in
        one of their statuses, unchanged for ``older_than`` seconds: what
        a restart finds in flight, or what a lost cast left behind."""
        since = self.db.now() - datetime.timedelta(seconds=older_than)
        for row in self.transitional(tuple(handlers)):
            if (row.updated_at or row.created_at) <= since:
                LOG.info("resuming %s %s left %s", self.name, row.id,
                         row.status)
                handlers[row.status](row)

    def finish(self, row_id: str, expected: str, *, release: bool = False,
               **values: Any) -> bool:
        """Set ``values`` if the row is still this host's and
        ``expected``; with ``release``, give back what it claimed in the
        same transaction. Returns whether the row changed."""
        if not release:
            return self.rows.cas(self.db, row_id, expected,
                                 where={"host": self.host}, **values)
        if self.placement is None:
            raise TypeError("release needs the HostRows' placement")
        with self.placement.transaction() as connection:
            changed = self.rows.cas(self.db, row_id, expected,
                                    where={"host": self.host},
                                    connection=connection, **values)
            if changed:
                self.placement.release(connection, row_id)
        return changed

    def delete(self, row_id: str, expected: str = "deleting") -> bool:
        """Soft-delete the row and give back what it claimed, together."""
        return self.finish(row_id, expected, release=True,
                           deleted_at=self.db.now())

    def fail(self, row_id: str, expected: str, action: str,
             exc: BaseException, *, status: str = "error",
             release: bool = False) -> bool:
        """Move the row to ``status`` with a fault naming ``action`` and
        the error's first line."""
        LOG.error("%s of %s %s failed", action, self.name, row_id,
                  exc_info=exc)
        return self.finish(row_id, expected, release=release, status=status,
                           fault=fault(action, exc))


def fault(action: str, exc: BaseException) -> str:
    """``"<action> failed: <first line of the error>"``."""
    text = str(exc).strip().splitlines()
    return f"{action} failed: {text[0] if text else type(exc).__name__}"
