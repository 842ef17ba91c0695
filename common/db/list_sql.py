"""The statements of the listings (volumes, services), built once per shape.

NOTE(capstan): building a SELECT per request cost ~200 us and loading ORM
objects ~150 us of a ~2 ms GET /v1/volumes?limit=20; these are built once
per shape (which filters, sort, marker or not), cached, and run on a Core
connection with bound values, returning read-only rows
(docs/benchmarks.md, benchmarks 2 and 5).
"""
from __future__ import annotations

import collections
import functools

import sqlalchemy as sa

from capstan.common.db import models


@functools.lru_cache(maxsize=256)
def volume_list_statement(by_project: bool, filter_keys: tuple,
                          sort_key: str, sort_dir: str, after_marker: bool,
                          limited: bool) -> sa.Select:
    """The volume list query of one shape, with bound parameters."""
    table = models.Volume
    query = sa.select(*_VOLUME_COLUMNS).where(table.deleted_at.is_(None))
    if by_project:
        query = query.where(table.project_id == sa.bindparam("project_id"))
    for key in filter_keys:
        query = query.where(getattr(table, key) == sa.bindparam(f"f_{key}"))
    column = sort_expression(sort_key)
    if after_marker:
        value, last = sa.bindparam("marker_value"), sa.bindparam("marker_id")
        if sort_dir == "desc":
            query = query.where(sa.or_(
                column < value, sa.and_(column == value, table.id < last)))
        else:
            query = query.where(sa.or_(
                column > value, sa.and_(column == value, table.id > last)))
    order = sa.desc if sort_dir == "desc" else sa.asc
    query = query.order_by(order(column), order(table.id))
    if limited:
        query = query.limit(sa.bindparam("limit"))
    return query


@functools.lru_cache(maxsize=8)
def service_list_statement(filter_keys: tuple) -> sa.Select:
    table = models.Service
    query = sa.select(*_SERVICE_COLUMNS).where(table.deleted_at.is_(None))
    for key in filter_keys:
        query = query.where(getattr(table, key) == sa.bindparam(key))
    return query.order_by(table.id)


def _columns(model: type) -> list:
    # Labelled with the attribute names, so rows read like the models
    # (Volume.meta is the column "metadata").
    return [getattr(model, attr.key).label(attr.key)
            for attr in sa.inspect(model).column_attrs]


# What a volume's REST view shows (api/v1/volumes.py view): not the
# scheduler hints nor deleted_at, which a listing would decode for nothing.
_VOLUME_COLUMNS = [column for column in _columns(models.Volume)
                   if column.name not in ("scheduler_hints", "deleted_at")]
# What a listing shows and is_up reads; the other timestamps are left out
# (on SQLite each DateTime is parsed from text: 30,000 of them cost ~25 ms).
_SERVICE_COLUMNS = [column for column in _columns(models.Service)
                    if column.name not in ("created_at", "updated_at",
                                           "deleted_at")]


def sort_expression(sort_key: str):
    """The volume column to sort on, never NULL.

    NOTE(capstan): keyset pagination compares with the marker's value; a
    NULL would match nothing (rows lost between pages), and SQLite and
    PostgreSQL put NULLs at opposite ends. Nullable keys get a fallback.
    """
    table = models.Volume
    column = getattr(table, sort_key)
    if sort_key == "updated_at":
        return sa.func.coalesce(table.updated_at, table.created_at)
    if sort_key in ("name", "host", "availability_zone"):
        return sa.func.coalesce(column, "")
    return column


def plain_rows(result: sa.CursorResult) -> list[tuple]:
    """The rows of ``result`` as named tuples with the same attributes.

    NOTE(capstan): a SQLAlchemy Row looks an attribute up by name on each
    access, ~0.25 us; a named tuple's attribute is a slot read. Views read
    about ten attributes a row: 2.5 us a record, ~25 ms of a listing of
    10,000 services (docs/benchmarks.md, benchmark 5).
    """
    make = _row_class(tuple(result.keys()))._make
    return [make(row) for row in result]


@functools.lru_cache(maxsize=32)
def _row_class(fields: tuple[str, ...]) -> type:
    return collections.namedtuple("ListedRow", fields)
