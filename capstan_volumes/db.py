"""The volume's queries: the rows the API, the scheduler and the workers
read and change, each a function of the framework's Database.

Status changes are compare-and-swaps (:func:`cas`, :func:`cas_creating`):
a duplicate or stale cast finds the row moved on and changes nothing.
"""
from __future__ import annotations

import datetime
import functools

import sqlalchemy as sa

from capstan.common.db.api import Database
from capstan.common.db.rows import Rows
from capstan_volumes.exception import VolumeNotFound
from capstan_volumes.models import Snapshot, Volume

VOLUMES = Rows(
    Volume, not_found=lambda volume_id: VolumeNotFound(volume_id=volume_id),
    # What a volume's REST view shows: not the scheduler hints, which a
    # listing would decode for nothing.
    listed_exclude=("scheduler_hints", "scheduled_by"),
    nullable_text=("name", "host", "availability_zone"),
    defaults={"meta": dict, "scheduler_hints": dict,
              "schedule_attempts": int})
SNAPSHOTS = Rows(Snapshot, nullable_text=("name",))
TABLE = Volume.__table__


@functools.lru_cache(maxsize=1)
def state_statement() -> sa.Select:
    """(id, host, status, size) of the live volume ``id``."""
    return sa.select(TABLE.c.id, TABLE.c.host, TABLE.c.status,
                     TABLE.c.size).where(TABLE.c.id == sa.bindparam("id"),
                                         TABLE.c.deleted_at.is_(None))


def create(db: Database, **values) -> Volume:
    """Insert a volume row (the API writes it before any cast)."""
    return VOLUMES.create(db, **values)


def get(db: Database, volume_id: str, *,
        project_id: str | None = None) -> Volume:
    """Return a live volume; one of another project reads as missing."""
    return VOLUMES.get(db, volume_id, project_id=project_id)


def list_page(db: Database, **kwargs) -> list[tuple]:
    """One page of live volumes (:meth:`Rows.list_page`)."""
    return VOLUMES.list_page(db, **kwargs)


def cas(db: Database, volume_id: str, expected: str | tuple[str, ...], *,
        connection: sa.Connection | None = None, **values) -> bool:
    """Set ``values`` only if the volume's status is ``expected``.

    The compare-and-swap every status change goes through: a duplicate
    or stale cast finds the status moved on and changes nothing.
    Returns whether the row was updated. With ``connection``, it runs in
    that connection's transaction (with a claim or release of capacity).
    """
    return VOLUMES.cas(db, volume_id, expected, connection=connection,
                       **values)


def get_state(db: Database, volume_id: str) -> sa.Row | None:
    """(id, host, status, size) of a live volume, None if gone.

    What a volume worker reads before it acts on a cast: one
    statement, no ORM object.
    """
    with db.autocommit() as connection:
        return connection.execute(state_statement(),
                                  {"id": volume_id}).first()


def sum_size_by_host(db: Database, host: str, *,
                     exclude_statuses: tuple[str, ...] = ()) -> int:
    """Total GiB of the live volumes placed on ``host``, in one query."""
    table = Volume
    query = sa.select(sa.func.coalesce(sa.func.sum(table.size), 0)).where(
        table.host == host, table.deleted_at.is_(None))
    if exclude_statuses:
        query = query.where(table.status.not_in(exclude_statuses))
    with db.session() as session:
        return int(session.scalar(query))


def ids_by_host(db: Database, host: str) -> list[str]:
    """Ids of the live volumes placed on ``host``, oldest first."""
    table = Volume
    query = (sa.select(table.id)
             .where(table.host == host, table.deleted_at.is_(None))
             .order_by(table.created_at))
    with db.autocommit() as connection:
        return list(connection.scalars(query))


def get_by_host(db: Database, host: str, *,
                statuses: tuple[str, ...] | None = None
                ) -> list[Volume]:
    table = Volume
    query = sa.select(table).where(table.host == host,
                                   table.deleted_at.is_(None))
    if statuses:
        query = query.where(table.status.in_(statuses))
    with db.session() as session:
        return list(session.scalars(query.order_by(table.created_at)))


def get_stuck_creating(db: Database, older_than: datetime.datetime,
                       limit: int = 100, *,
                       crashed: dict[str, datetime.datetime] | None = None
                       ) -> list[Volume]:
    """Volumes still ``creating`` that nobody is working on.

    Those unchanged since before ``older_than`` (a lost cast), and, with
    ``crashed`` (scheduler host -> when it was found down), at once: those
    the crashed schedulers placed or re-sent, and those no scheduler took
    yet that were created before one of them was found down (it may have
    taken their cast with it).
    """
    table = Volume
    stuck = [sa.func.coalesce(table.updated_at,
                              table.created_at) < older_than]
    if crashed:
        stuck.append(table.scheduled_by.in_(sorted(crashed)))
        stuck.append(sa.and_(table.scheduled_by.is_(None),
                             table.host.is_(None),
                             table.created_at < max(crashed.values())))
    query = (sa.select(table)
             .where(table.status == "creating", table.deleted_at.is_(None),
                    sa.or_(*stuck))
             .order_by(table.created_at).limit(limit))
    with db.session() as session:
        return list(session.scalars(query))


def cas_creating(db: Database, volume_id: str, *,
                 expected_host: str | None,
                 attempts: int | None = None,
                 connection: sa.Connection | None = None, **values) -> bool:
    """Set ``values`` on a volume still ``creating`` on a given host.

    ``expected_host=None`` matches only a volume not placed yet, so a
    duplicate cast or a second scheduler never places it twice.
    ``attempts``, when given, must equal ``schedule_attempts``, so that
    one re-send is claimed by one scheduler only. Returns whether the
    row changed.
    """
    where = {"host": expected_host}
    if attempts is not None:
        where["schedule_attempts"] = attempts
    return VOLUMES.cas(db, volume_id, "creating", where=where,
                       connection=connection, **values)


def get_hosts(db: Database, volume_ids: list[str]) -> dict[str, str]:
    """Map each live, placed volume among ``volume_ids`` to its host."""
    if not volume_ids:
        return {}
    table = Volume
    query = sa.select(table.id, table.host).where(
        table.id.in_(volume_ids), table.deleted_at.is_(None),
        table.host.is_not(None))
    with db.session() as session:
        return {row.id: row.host for row in session.execute(query)}
