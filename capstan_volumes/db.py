"""The volume's queries: the rows the API, the scheduler and the workers
read and change, each a function of the framework's Database.

Status changes are compare-and-swaps (:func:`cas`, :func:`cas_creating`):
a duplicate or stale cast finds the row moved on and changes nothing.
"""
from __future__ import annotations

import datetime
import functools

import sqlalchemy as sa

from capstan.common.db import listing
from capstan.common.db.api import Database
from capstan.common.db.models import utcnow
from capstan_volumes.exception import VolumeNotFound
from capstan_volumes.models import Volume

TABLE = Volume.__table__
COLUMN_KEYS = listing.column_keys(Volume)
# What the models' column defaults would have filled in on a flush.
DEFAULTS = {"meta": dict, "scheduler_hints": dict, "schedule_attempts": int,
            "created_at": utcnow}
SORT_KEYS = ("created_at", "updated_at", "size", "name", "status", "id")
# What a volume's REST view shows: not the scheduler hints nor deleted_at,
# which a listing would decode for nothing.
_LISTED = listing.columns(Volume, exclude=("scheduler_hints", "deleted_at",
                                          "scheduled_by"))
_NULLABLE_TEXT = ("name", "host", "availability_zone")


def sort_expression(sort_key: str):
    return listing.sort_expression(Volume, sort_key, _NULLABLE_TEXT)


@functools.lru_cache(maxsize=256)
def list_statement(by_project: bool, filter_keys: tuple, sort_key: str,
                   sort_dir: str, after_marker: bool,
                   limited: bool) -> sa.Select:
    return listing.list_statement(
        Volume, _LISTED, sort_expression(sort_key), sort_dir=sort_dir,
        by_project=by_project, filter_keys=filter_keys,
        after_marker=after_marker, limited=limited)


@functools.lru_cache(maxsize=64)
def cas_statement(value_keys: tuple, where: tuple) -> sa.Update:
    return listing.cas_statement(TABLE, COLUMN_KEYS, value_keys, where)


@functools.lru_cache(maxsize=1)
def insert_statement() -> sa.Insert:
    """INSERT of a volume; parameters keyed by column."""
    return sa.insert(TABLE)


@functools.lru_cache(maxsize=1)
def state_statement() -> sa.Select:
    """(id, host, status, size) of the live volume ``id``."""
    return sa.select(TABLE.c.id, TABLE.c.host, TABLE.c.status,
                     TABLE.c.size).where(TABLE.c.id == sa.bindparam("id"),
                                         TABLE.c.deleted_at.is_(None))


def create(db: Database, **values) -> Volume:
    """Insert a volume row (the API writes it before any cast).

    Returns the row as a detached Volume, its defaults filled.
    """
    # NOTE(capstan): one INSERT in autocommit, not a session flush:
    # the ORM's unit of work made this ~35% of the API's CPU per
    # create (benchmark 3); now ~0.3 ms of CPU instead of ~0.6.
    for key, default in DEFAULTS.items():
        if key not in values:
            values[key] = default()
    row = Volume(**values)
    with db.autocommit() as connection:
        connection.execute(insert_statement(), {
            COLUMN_KEYS[key]: value
            for key, value in values.items()})
    return row


def get(db: Database, volume_id: str, *,
        project_id: str | None = None) -> Volume:
    """Return a live volume; one of another project reads as missing."""
    with db.session() as session:
        row = session.get(Volume, volume_id)
    if (row is None or row.deleted_at is not None
            or (project_id is not None and row.project_id != project_id)):
        raise VolumeNotFound(volume_id=volume_id)
    return row


def list_page(db: Database, *, project_id: str | None = None,
              filters: dict | None = None, limit: int | None = None,
              marker: str | None = None, sort_key: str = "created_at",
              sort_dir: str = "desc") -> list[tuple]:
    """List live volumes, filtered by exact values, keyset-paginated.

    ``marker`` is the id of the last volume of the previous page; the
    sort is (``sort_key``, id) so pages are stable under ties. Returns
    read-only named tuples with the attributes of Volume.

    NOTE(capstan): the statement is built once per shape (which
    filters, sort, marker or not) and values are bound: building it
    per request cost ~200 us and loading ORM objects ~150 us of a
    ~2 ms GET /v1/volumes?limit=20 (docs/benchmarks.md, benchmark 2).
    """
    filters = dict(filters or {})
    marker_value = (None if marker is None else
                    _sort_value(db, marker, sort_key, project_id))
    params = listing.list_params(project_id=project_id, filters=filters,
                                 limit=limit, marker=marker,
                                 marker_value=marker_value)
    statement = list_statement(
        project_id is not None, tuple(sorted(filters)), sort_key,
        sort_dir, marker is not None, limit is not None)
    # NOTE(capstan): one Core SELECT in autocommit, no ORM session: the
    # session's BEGIN/COMMIT and ORM result handling were ~120 us of a
    # ~570 us GET /v1/volumes?limit=20 on SQLite (benchmark 2).
    with db.autocommit() as connection:
        return listing.plain_rows(connection.execute(statement, params))


def _sort_value(db: Database, volume_id: str, sort_key: str,
                project_id: str | None):
    """The marker volume's value of the sort key; VolumeNotFound if it
    is gone or another project's, as :func:`get` would say."""
    params = {"marker_id": volume_id}
    if project_id is not None:
        params["project_id"] = project_id
    with db.autocommit() as connection:
        row = connection.execute(_marker_statement(
            sort_key, project_id is not None), params).first()
    if row is None:
        raise VolumeNotFound(volume_id=volume_id)
    return row[0]


@functools.lru_cache(maxsize=32)
def _marker_statement(sort_key: str, by_project: bool) -> sa.Select:
    return listing.marker_statement(Volume, sort_expression(sort_key),
                                    by_project)


def cas(db: Database, volume_id: str, expected: str | tuple[str, ...], *,
        connection: sa.Connection | None = None, **values) -> bool:
    """Set ``values`` only if the volume's status is ``expected``.

    The compare-and-swap every status change goes through: a duplicate
    or stale cast finds the status moved on and changes nothing.
    Returns whether the row was updated. With ``connection``, it runs in
    that connection's transaction (with a claim or release of capacity).
    """
    if isinstance(expected, str):
        expected = (expected,)
    values.setdefault("updated_at", db.now())
    params = listing.value_params(values)
    params.update(w_id=volume_id, w_expected=list(expected))
    statement = cas_statement(tuple(sorted(values)), ("status",))
    return _changed(db, connection, statement, params) == 1


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
    values.setdefault("updated_at", db.now())
    params = listing.value_params(values)
    params.update(w_id=volume_id, w_expected=["creating"])
    where = ["status", "host is null" if expected_host is None else "host"]
    if expected_host is not None:
        params["w_host"] = expected_host
    if attempts is not None:
        where.append("schedule_attempts")
        params["w_schedule_attempts"] = attempts
    statement = cas_statement(tuple(sorted(values)), tuple(where))
    return _changed(db, connection, statement, params) == 1


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


def _changed(db: Database, connection: sa.Connection | None,
             statement: sa.Executable, params: dict) -> int:
    """Rows ``statement`` changed, in ``connection``'s transaction or in
    autocommit."""
    if connection is not None:
        return connection.execute(statement, params).rowcount
    with db.autocommit() as autocommit:
        return autocommit.execute(statement, params).rowcount
