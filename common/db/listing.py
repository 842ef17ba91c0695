"""Listings and compare-and-swaps built once per shape, for any model.

The fast path a REST listing needs: a SELECT of the columns its view shows,
filtered by exact values, keyset-paginated on (sort key, id), built once
per shape (which filters, sort, marker or not) and run on a Core
connection with bound values, returning named tuples; and the one-statement
compare-and-swap every state change of a resource goes through.

NOTE(capstan): building a SELECT per request cost ~200 us and loading ORM
objects ~150 us of a ~2 ms listing of 20 rows; bound statements and named
tuples made it several times cheaper (docs/benchmarks.md, benchmarks 2 and
5). Callers cache what :func:`list_statement` and :func:`cas_statement`
build (``functools.lru_cache`` on a function of the shape).
"""
from __future__ import annotations

import collections
import functools
from typing import Any, Iterable

import sqlalchemy as sa

from capstan.common.db import models

NULLABLE_TEXT_FALLBACK = ""


def columns(model: type, exclude: Iterable[str] = ()) -> list:
    """The columns of ``model`` labelled with their attribute names.

    Rows then read like the model (an attribute whose column has another
    name, such as ``meta`` for ``metadata``, keeps the attribute's name).
    """
    excluded = set(exclude)
    return [getattr(model, attr.key).label(attr.key)
            for attr in sa.inspect(model).column_attrs
            if attr.key not in excluded]


def sort_expression(model: type, sort_key: str,
                    nullable_text: Iterable[str] = ()):
    """The column of ``model`` to sort on, never NULL.

    NOTE(capstan): keyset pagination compares with the marker's value; a
    NULL would match nothing (rows lost between pages), and SQLite and
    PostgreSQL put NULLs at opposite ends. ``updated_at`` falls back to
    ``created_at``, the text columns named in ``nullable_text`` to "".
    """
    column = getattr(model, sort_key)
    if sort_key == "updated_at":
        return sa.func.coalesce(model.updated_at, model.created_at)
    if sort_key in nullable_text:
        return sa.func.coalesce(column, NULLABLE_TEXT_FALLBACK)
    return column


def list_statement(model: type, selected: list, sort_column: Any, *,
                   sort_dir: str, by_project: bool, filter_keys: tuple,
                   after_marker: bool, limited: bool) -> sa.Select:
    """SELECT ``selected`` of the live rows of ``model``, in one shape.

    Bound parameters: ``project_id`` (when ``by_project``), ``f_<key>``
    for each filter, ``marker_value`` and ``marker_id`` (the previous
    page's last sort value and id), ``limit``.
    """
    query = sa.select(*selected).where(model.deleted_at.is_(None))
    if by_project:
        query = query.where(model.project_id == sa.bindparam("project_id"))
    for key in filter_keys:
        query = query.where(getattr(model, key) == sa.bindparam(f"f_{key}"))
    if after_marker:
        value, last = sa.bindparam("marker_value"), sa.bindparam("marker_id")
        if sort_dir == "desc":
            query = query.where(sa.or_(
                sort_column < value,
                sa.and_(sort_column == value, model.id < last)))
        else:
            query = query.where(sa.or_(
                sort_column > value,
                sa.and_(sort_column == value, model.id > last)))
    order = sa.desc if sort_dir == "desc" else sa.asc
    query = query.order_by(order(sort_column), order(model.id))
    if limited:
        query = query.limit(sa.bindparam("limit"))
    return query


def list_params(*, project_id: str | None, filters: dict, limit: int | None,
                marker: str | None, marker_value: Any = None) -> dict:
    """The bound values of a :func:`list_statement` of the same shape."""
    params = {f"f_{key}": value for key, value in filters.items()}
    if project_id is not None:
        params["project_id"] = project_id
    if limit is not None:
        params["limit"] = limit
    if marker is not None:
        params["marker_id"] = marker
        params["marker_value"] = marker_value
    return params


def marker_statement(model: type, sort_column: Any,
                     by_project: bool) -> sa.Select:
    """The sort value of the live row ``marker_id`` (of ``project_id``)."""
    query = sa.select(sort_column).where(
        model.id == sa.bindparam("marker_id"), model.deleted_at.is_(None))
    if by_project:
        query = query.where(model.project_id == sa.bindparam("project_id"))
    return query


def cas_statement(table: sa.Table, column_keys: dict[str, str],
                  value_keys: tuple, where: tuple) -> sa.Update:
    """UPDATE of the attributes ``value_keys`` of the live row ``w_id``.

    ``where`` names the conditions besides the id: ``status`` (one of the
    expanding ``w_expected``), ``<column> is null``, or a column equal to
    ``w_<column>``. ``column_keys`` maps attribute names to column keys.
    Values are bound as ``v_<attribute>`` (see :func:`value_params`).
    """
    conditions = [table.c.id == sa.bindparam("w_id"),
                  table.c.deleted_at.is_(None)]
    for name in where:
        if name == "status":
            conditions.append(table.c.status.in_(
                sa.bindparam("w_expected", expanding=True)))
        elif name.endswith(" is null"):
            conditions.append(table.c[name[:-len(" is null")]].is_(None))
        else:
            conditions.append(table.c[name] == sa.bindparam(f"w_{name}"))
    targets = [table.c[column_keys[key]] for key in value_keys]
    return sa.update(table).where(*conditions).values({
        column: sa.bindparam(f"v_{key}", type_=column.type)
        for key, column in zip(value_keys, targets)})


def value_params(values: dict) -> dict:
    """``values`` (by attribute) as the ``v_`` parameters of a CAS."""
    return {f"v_{key}": value for key, value in values.items()}


def column_keys(model: type) -> dict[str, str]:
    """Attribute name -> column key of ``model``."""
    return {attr.key: attr.columns[0].key
            for attr in sa.inspect(model).column_attrs}


@functools.lru_cache(maxsize=8)
def service_list_statement(filter_keys: tuple) -> sa.Select:
    """The services listing, filtered by exact values of ``filter_keys``."""
    table = models.Service
    query = sa.select(*_SERVICE_COLUMNS).where(table.deleted_at.is_(None))
    for key in filter_keys:
        query = query.where(getattr(table, key) == sa.bindparam(key))
    return query.order_by(table.id)


# What a listing shows and is_up reads; the other timestamps are left out
# (on SQLite each DateTime is parsed from text: 30,000 of them cost ~25 ms).
_SERVICE_COLUMNS = columns(models.Service,
                           exclude=("created_at", "updated_at", "deleted_at"))


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
