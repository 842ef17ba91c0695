"""Engine, sessions and the service-record queries of the framework.

An application's resources keep their own queries next to them and run
them through :meth:`Database.session` (ORM) or :meth:`Database.autocommit`
(one-statement Core reads and compare-and-swaps).

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
from capstan.common.db import listing, models

LOG = logging.getLogger(__name__)


class Database:
    """Sessions, connectivity checks and the service-record queries."""

    def __init__(self, connection: str, *, pool_size: int = 10,
                 max_overflow: int = 20,
                 now: Callable[[], datetime.datetime] = models.utcnow) -> None:
        self.url = connection
        self.now = now
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._engine: sa.Engine | None = None
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
        if self._engine is not None:
            self._engine.dispose()

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

        At most ``pool_size`` green threads hold one at a time; the others
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
            with self.engine.connect() as connection:
                yield connection.execution_options(
                    isolation_level="AUTOCOMMIT")

    def ping(self) -> None:
        """Run ``SELECT 1``; raise ServiceUnavailable if it fails."""
        with self.session() as session:
            session.execute(sa.text("SELECT 1"))

    # -- service records ------------------------------------------------

    def service_get(self, service_id: int) -> models.Service:
        with self.session() as session:
            row = session.get(models.Service, service_id)
            if row is None or row.deleted_at is not None:
                raise exception.ServiceNotFound(service_id=service_id)
            return row

    def service_get_by_host_topic(self, host: str,
                                  topic: str) -> models.Service | None:
        with self.session() as session:
            return session.scalars(_live_services().where(
                models.Service.host == host,
                models.Service.topic == topic)).first()

    def service_get_all(self, *, host: str | None = None,
                        binary: str | None = None,
                        topic: str | None = None) -> list[tuple]:
        """Live service records as read-only named tuples: the attributes
        of models.Service but the timestamps, except ``last_seen_up``.

        NOTE(capstan): not ORM objects: at 10,000 services loading
        entities took ~100 ms of a GET /v1/services, rows ~27 ms
        (docs/benchmarks.md, benchmark 5).
        """
        filters = {"host": host, "binary": binary, "topic": topic}
        shape = tuple(key for key, value in filters.items()
                      if value is not None)
        params = {key: filters[key] for key in shape}
        with self.autocommit() as connection:
            return listing.plain_rows(connection.execute(
                listing.service_list_statement(shape), params))

    def service_create(self, host: str, binary: str,
                       topic: str) -> models.Service:
        # NOTE(capstan): timestamps come from self.now, never from the
        # models' utcnow defaults, so that every age cleanup_stale and
        # is_up compare is on one clock (the one tests inject).
        now = self.now()
        row = models.Service(host=host, binary=binary, topic=topic,
                             state="running", report_count=0,
                             last_seen_up=now, created_at=now)
        with self.session() as session:
            session.add(row)
        return row

    def service_update(self, service_id: int, **values) -> models.Service:
        """Set ``values`` on a live service and return the updated row."""
        with self.session() as session:
            row = session.get(models.Service, service_id)
            if row is None or row.deleted_at is not None:
                raise exception.ServiceNotFound(service_id=service_id)
            values.setdefault("updated_at", self.now())
            for key, value in values.items():
                setattr(row, key, value)
            # Written even when equal to the old value: otherwise the
            # model's onupdate would put the real clock there instead.
            orm.attributes.flag_modified(row, "updated_at")
            return row

    def service_heartbeat(self, service_id: int) -> models.Service:
        """Bump report_count and last_seen_up in one UPDATE."""
        now = self.now()
        table = models.Service
        with self.session() as session:
            result = session.execute(
                sa.update(table)
                .where(table.id == service_id, table.deleted_at.is_(None))
                .values(report_count=table.report_count + 1,
                        last_seen_up=now, state="running", updated_at=now))
            if result.rowcount == 0:
                raise exception.ServiceNotFound(service_id=service_id)
            return session.get(table, service_id)

    def service_destroy(self, service_id: int) -> None:
        """Soft-delete a service record."""
        self.service_update(service_id, deleted_at=self.now())

    def service_cleanup_stopped(self, topic: str, *, keep_host: str,
                                older_than: datetime.datetime) -> int:
        """Soft-delete stopped, enabled records of ``topic`` on other hosts.

        Only records not updated since ``older_than`` go; a disabled record
        is kept, because its disabled flag is an operator's decision that a
        restart of that host must still see.
        """
        table = models.Service
        with self.session() as session:
            result = session.execute(
                sa.update(table)
                .where(table.topic == topic, table.host != keep_host,
                       table.state == "stopped", table.disabled.is_(False),
                       table.deleted_at.is_(None),
                       sa.func.coalesce(table.updated_at,
                                        table.created_at) < older_than)
                .values(deleted_at=self.now()))
            return result.rowcount

    def service_purge_deleted(self, older_than: datetime.datetime) -> int:
        """Hard-delete service records soft-deleted before ``older_than``."""
        table = models.Service
        with self.session() as session:
            result = session.execute(
                sa.delete(table)
                .where(table.deleted_at.is_not(None),
                       table.deleted_at < older_than))
            return result.rowcount

    def service_get_liveness(self, topic: str) -> list[sa.Row]:
        """Rows (host, disabled, state, forced_down, last_seen_up) of the
        live services of ``topic``: what ``records.is_up`` reads, several
        times cheaper than whole records at thousands of hosts."""
        table = models.Service
        query = sa.select(table.host, table.disabled, table.state,
                          table.forced_down, table.last_seen_up).where(
            table.topic == topic, table.deleted_at.is_(None))
        with self.session() as session:
            return list(session.execute(query))


def _live_services() -> sa.Select:
    return sa.select(models.Service).where(
        models.Service.deleted_at.is_(None))


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
