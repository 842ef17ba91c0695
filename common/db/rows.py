"""The rows of one resource table: create, get, list a page, compare-and-swap.

An application's resource model (id, status, project_id, user_id, the
timestamps and ``deleted_at``) gets every query its REST resource and its
workers share from one :class:`Rows`, built once at import with the model;
each method takes the :class:`~capstan.common.db.api.Database` to run on.
Statements are built once per shape and run with bound values on Core
connections (:mod:`capstan.common.db.listing` says why).

Status changes are compare-and-swaps (:meth:`Rows.cas`): a duplicate or
stale cast finds the row moved on and changes nothing.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from capstan.common import exception
from capstan.common.db import listing
from capstan.common.db.api import Database


class Rows:
    """Queries on the live rows of ``model``.

    ``not_found(id)`` builds the error for a missing row (a NotFound);
    ``listed_exclude`` names attributes a listing need not read;
    ``nullable_text`` the text columns a sort treats NULL as "";
    ``defaults`` fills attributes a create leaves out (callables).
    """

    def __init__(self, model: type, *,
                 not_found: Callable[[str], Exception] | None = None,
                 listed_exclude: Iterable[str] = (),
                 nullable_text: Iterable[str] = (),
                 defaults: dict[str, Callable[[], Any]] | None = None
                 ) -> None:
        self.model = model
        self.table = model.__table__
        self.column_keys = listing.column_keys(model)
        self.defaults = dict(defaults or {})
        self._not_found = not_found or _not_found(model)
        self._listed = listing.columns(
            model, exclude=("deleted_at", *listed_exclude))
        self._nullable_text = tuple(nullable_text)
        # Per instance: each model has its own shapes.
        self._list_statement = functools.lru_cache(256)(self._build_list)
        self._cas_statement = functools.lru_cache(64)(self._build_cas)
        self._marker_statement = functools.lru_cache(32)(self._build_marker)
        self._insert = sa.insert(self.table)
        self._count = sa.select(sa.func.count()).select_from(
            self.table).where(self.table.c.status == sa.bindparam("status"),
                              self.table.c.deleted_at.is_(None))
        created_at = self.table.c.created_at
        self._count_between = self._count.where(
            created_at >= sa.bindparam("since"),
            created_at < sa.bindparam("until"))
        live = (self.table.c.id == sa.bindparam("id"),
                self.table.c.deleted_at.is_(None))
        self._lock_shared = sa.select(self.table.c.status).where(
            *live).with_for_update(read=True)
        self._lock_update = sa.select(self.table.c.status).where(
            *live).with_for_update()
        self._state = sa.select(*listing.columns(model)).where(*live)

    def not_found(self, row_id: str) -> Exception:
        return self._not_found(row_id)

    # -- writes -------------------------------------------------------------

    def create(self, db: Database, *,
               connection: sa.Connection | None = None,
               **values: Any) -> Any:
        """Insert a row; return it as a detached model object with its
        defaults filled. With ``connection``, in its transaction (beside
        a claim of capacity); else in autocommit."""
        # NOTE(capstan): one INSERT, not a session flush: the ORM's unit of
        # work was ~35% of the API's CPU per create (benchmark 3).
        values.setdefault("created_at", db.now())
        for key, default in self.defaults.items():
            if key not in values:
                values[key] = default()
        row = self.model(**values)
        params = {self.column_keys[key]: value
                  for key, value in values.items()}
        if connection is not None:
            connection.execute(self._insert, params)
            return row
        with db.autocommit() as autocommit:
            autocommit.execute(self._insert, params)
        return row

    def cas(self, db: Database, row_id: str,
            expected: str | tuple[str, ...] | None, *,
            where: dict[str, Any] | None = None,
            connection: sa.Connection | None = None, **values: Any) -> bool:
        """Set ``values`` only if the live row's status is ``expected``
        (any status if None) and each column in ``where`` equals its
        value (None: IS NULL). Returns whether the row changed.

        With ``connection``, it runs in that connection's transaction
        (beside a claim or a release of capacity); else in autocommit.
        """
        values.setdefault("updated_at", db.now())
        params = listing.value_params(values)
        params["w_id"] = row_id
        conditions = []
        if expected is not None:
            conditions.append("status")
            params["w_expected"] = ([expected] if isinstance(expected, str)
                                    else list(expected))
        for column, value in sorted((where or {}).items()):
            if value is None:
                conditions.append(f"{column} is null")
            else:
                conditions.append(column)
                params[f"w_{column}"] = value
        statement = self._cas_statement(tuple(sorted(values)),
                                        tuple(conditions))
        if connection is not None:
            return connection.execute(statement, params).rowcount == 1
        with db.autocommit() as autocommit:
            return autocommit.execute(statement, params).rowcount == 1

    def lock(self, connection: sa.Connection, row_id: str, *,
             shared: bool = False) -> str | None:
        """Lock the live row until ``connection``'s transaction ends and
        return its status (None: gone). ``shared`` (FOR SHARE): others
        may read-lock it too, nobody may change it; else FOR UPDATE.
        SQLite has no row locks (it runs one writer at a time)."""
        statement = self._lock_shared if shared else self._lock_update
        return connection.execute(statement, {"id": row_id}
                                  ).scalar_one_or_none()

    def live_ids(self, connection: sa.Connection, *,
                 statuses: tuple[str, ...] | None = None,
                 **equal: Any) -> list[str]:
        """Ids of the live rows whose columns equal ``equal`` (and whose
        status is one of ``statuses``), in ``connection``'s transaction."""
        query = sa.select(self.table.c.id).where(
            self.table.c.deleted_at.is_(None))
        for column, value in equal.items():
            query = query.where(
                self.table.c[self.column_keys[column]] == value)
        if statuses is not None:
            query = query.where(self.table.c.status.in_(statuses))
        return list(connection.scalars(query.order_by(self.table.c.id)))

    # -- reads --------------------------------------------------------------

    def get(self, db: Database, row_id: str, *,
            project_id: str | None = None) -> Any:
        """A live row; one of another project reads as missing."""
        with db.session() as session:
            row = session.get(self.model, row_id)
        if (row is None or row.deleted_at is not None
                or (project_id is not None and row.project_id != project_id)):
            raise self.not_found(row_id)
        return row

    def state(self, db: Database, row_id: str) -> tuple | None:
        """The live row as a read-only named tuple, None if gone: one
        Core SELECT, no ORM object (what a worker reads per cast)."""
        with db.autocommit() as connection:
            rows = listing.plain_rows(connection.execute(
                self._state, {"id": row_id}))
        return rows[0] if rows else None

    def count(self, db: Database, status: str) -> int:
        """How many live rows are in ``status``: one COUNT."""
        with db.autocommit() as connection:
            return connection.execute(self._count, {"status": status}
                                      ).scalar_one()

    def count_created_between(self, db: Database, status: str, *,
                              since: Any, until: Any) -> int:
        """How many live rows created in [since, until) are in
        ``status``: one COUNT, on the created_at index where the model
        has one."""
        with db.autocommit() as connection:
            return connection.execute(self._count_between, {
                "status": status, "since": since, "until": until}
                ).scalar_one()

    def find(self, db: Database, *, order_by: str = "created_at",
             limit: int | None = None, **equal: Any) -> list[Any]:
        """Live rows whose columns equal ``equal`` (a tuple: one of)."""
        query = sa.select(self.model).where(self.model.deleted_at.is_(None))
        for column, value in equal.items():
            attribute = getattr(self.model, column)
            query = query.where(attribute.in_(value) if isinstance(value, tuple)
                                else attribute == value)
        query = query.order_by(getattr(self.model, order_by)).limit(limit)
        with db.session() as session:
            return list(session.scalars(query))

    def list_page(self, db: Database, *, project_id: str | None = None,
                  filters: dict | None = None, limit: int | None = None,
                  marker: str | None = None, sort_key: str = "created_at",
                  sort_dir: str = "desc") -> list[tuple]:
        """Live rows, filtered by exact values, keyset-paginated.

        ``marker`` is the id of the last row of the previous page (its
        ``not_found`` if gone or another project's); the sort is
        (``sort_key``, id), so pages are stable under ties. Returns
        read-only named tuples with the model's attributes.
        """
        filters = dict(filters or {})
        marker_value = (None if marker is None else
                        self._sort_value(db, marker, sort_key, project_id))
        params = listing.list_params(project_id=project_id, filters=filters,
                                     limit=limit, marker=marker,
                                     marker_value=marker_value)
        statement = self._list_statement(
            project_id is not None, tuple(sorted(filters)), sort_key,
            sort_dir, marker is not None, limit is not None)
        with db.autocommit() as connection:
            return listing.plain_rows(connection.execute(statement, params))

    def _sort_value(self, db: Database, row_id: str, sort_key: str,
                    project_id: str | None) -> Any:
        params = {"marker_id": row_id}
        if project_id is not None:
            params["project_id"] = project_id
        with db.autocommit() as connection:
            row = connection.execute(self._marker_statement(
                sort_key, project_id is not None), params).first()
        if row is None:
            raise self.not_found(row_id)
        return row[0]

    # -- statements ---------------------------------------------------------

    def sort_expression(self, sort_key: str) -> Any:
        return listing.sort_expression(self.model, sort_key,
                                       self._nullable_text)

    def _build_list(self, by_project: bool, filter_keys: tuple,
                    sort_key: str, sort_dir: str, after_marker: bool,
                    limited: bool) -> sa.Select:
        return listing.list_statement(
            self.model, self._listed, self.sort_expression(sort_key),
            sort_dir=sort_dir, by_project=by_project,
            filter_keys=filter_keys, after_marker=after_marker,
            limited=limited)

    def _build_cas(self, value_keys: tuple, where: tuple) -> sa.Update:
        return listing.cas_statement(self.table, self.column_keys,
                                     value_keys, where)

    def _build_marker(self, sort_key: str, by_project: bool) -> sa.Select:
        return listing.marker_statement(
            self.model, self.sort_expression(sort_key), by_project)


def _not_found(model: type) -> Callable[[str], Exception]:
    name = model.__name__

    def build(row_id: str) -> Exception:
        return exception.NotFound(f"{name} {row_id} could not be found.")
    return build
