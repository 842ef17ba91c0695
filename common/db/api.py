"""Engine and sessions: what every resource's queries run on.

Each resource keeps its own queries next to it (the framework's service
records in :mod:`common.db.services`, an application's in its own package)
and runs them through :meth:`Database.session` (ORM) or
:meth:`Database.autocommit` (one-statement Core reads and
compare-and-swaps).

A :class:`Database` opens its engine on first use, never at construction, so
one can be built before a fork and used only in the children. Lost
connections surface as :class:`~common.exception.ServiceUnavailable`.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import threading
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from capstan.common import exception
from capstan.common.db import engine as db_engine
from capstan.common.db import models

LOG = logging.getLogger(__name__)


class Database:
    """The engine, its sessions, a connectivity check and the clock."""

    def __init__(self, connection: str, *, pool_size: int = 10,
                 max_overflow: int = 20,
                 now: Callable[[], datetime.datetime] = models.utcnow) -> None:
        self.url = connection
        self.now = now
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._engine: sa.Engine | None = None
        self._autocommit_engine: sa.Engine | None = None
        self._sessionmaker: orm.sessionmaker | None = None
        # Made on first use, never before a fork (see autocommit).
        self._autocommit_slots: threading.BoundedSemaphore | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = db_engine.create_engine(
                self.url, self._pool_size, self._max_overflow)
            self._sessionmaker = orm.sessionmaker(self._engine,
                                                  expire_on_commit=False)
        return self._engine

    def dispose(self) -> None:
        """Close every pooled connection (on stop, and in tests)."""
        for engine in (self._engine, self._autocommit_engine):
            if engine is not None:
                engine.dispose()

    @contextlib.contextmanager
    def session(self) -> Iterator[orm.Session]:
        """Yield a session in a transaction committed on success."""
        self.engine  # noqa: B018 - builds the sessionmaker on first use
        with _disconnects_unavailable():
            with self._sessionmaker.begin() as session:
                yield session

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[sa.Connection]:
        """Yield a Core connection where each statement commits by itself.

        For the one-statement reads and compare-and-swaps of the create
        path, which need no transaction around them: a single UPDATE is
        atomic on its own.

        NOTE(capstan): a session costs three round trips per statement on
        PostgreSQL (BEGIN, the statement, COMMIT) plus the ORM's unit of
        work; this costs one: a CAS went from ~0.7 to ~0.25 ms of CPU
        (benchmark 3's path). Either pings a connection first only when it
        sat idle in the pool (common/db/engine.py).

        On a server database these connections come from a pool of their
        own (``pool_size``, no overflow), always in autocommit
        (common/db/engine.py): a process
        holds at most ``2 * pool_size + max_overflow`` connections. At
        most ``pool_size`` green threads hold one at a time; the others
        wait for a kept connection. NOTE(capstan): a burst of casts (the
        RPC executor runs up to 64 at once) otherwise opened overflow
        connections for one statement each and closed them right after:
        ~250 new PostgreSQL connections in one quick benchmark 3 instead
        of ~45, each ~0.7 ms of this process's CPU (and more of the
        server's) to serve a ~0.25 ms statement.
        """
        if self._autocommit_slots is None:
            self._autocommit_slots = threading.BoundedSemaphore(
                self._pool_size)
        with self._autocommit_slots, _disconnects_unavailable():
            if self._autocommit_engine is None:
                self._autocommit_engine = db_engine.create_autocommit_engine(
                    self.engine, self._pool_size)
            with self._autocommit_engine.connect() as connection:
                yield connection

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """Yield a Core connection in one transaction: committed when the
        block ends, rolled back when it raises.

        For changes that must happen together, such as a resource's
        compare-and-swap and the capacity it claims (common/db/placement.py).
        """
        with _disconnects_unavailable():
            with self.engine.begin() as connection:
                yield connection

    def ping(self) -> None:
        """Run ``SELECT 1``; raise ServiceUnavailable if it fails."""
        with self.session() as session:
            session.execute(sa.text("SELECT 1"))


@contextlib.contextmanager
def _disconnects_unavailable() -> Iterator[None]:
    """Turn a lost database connection into ServiceUnavailable."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        if _is_disconnect(exc):
            raise exception.ServiceUnavailable(
                f"database unavailable: {_first_line(exc)}") from exc
        raise


def _is_disconnect(exc: sa_exc.DBAPIError) -> bool:
    if getattr(exc, "connection_invalidated", False):
        return True
    text = str(exc.orig).lower()
    return any(marker in text for marker in (
        "connection", "server closed", "could not connect", "terminating",
        "shutting down", "timeout", "unable to open database"))


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]
