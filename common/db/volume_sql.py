"""The statements of the volume create path, built once per shape.

They run on :class:`~common.db.api.Database`'s autocommit connections with
bound values (``v_<attribute>`` for values, ``w_<name>`` for conditions),
on the table rather than the entity: no ORM unit of work or bulk-update
evaluation per call.
"""
from __future__ import annotations

import functools

import sqlalchemy as sa

from capstan.common.db import models

TABLE = models.Volume.__table__
# Attribute name -> column key (Volume.meta is the column "metadata").
COLUMN_KEYS = {attr.key: attr.columns[0].key
               for attr in sa.inspect(models.Volume).column_attrs}
# What the models' column defaults would have filled in on a flush.
DEFAULTS = {"meta": dict, "scheduler_hints": dict, "schedule_attempts": int,
            "created_at": models.utcnow}


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


@functools.lru_cache(maxsize=64)
def cas_statement(value_keys: tuple, where: tuple) -> sa.Update:
    """UPDATE of the attributes ``value_keys`` of the live volume ``w_id``
    if it matches each of ``where``: ``status`` (one of ``w_expected``),
    ``no_host``, ``host`` (``w_host``), ``schedule_attempts``
    (``w_schedule_attempts``)."""
    conditions = [TABLE.c.id == sa.bindparam("w_id"),
                  TABLE.c.deleted_at.is_(None)]
    for name in where:
        if name == "status":
            conditions.append(TABLE.c.status.in_(
                sa.bindparam("w_expected", expanding=True)))
        elif name == "no_host":
            conditions.append(TABLE.c.host.is_(None))
        else:
            conditions.append(TABLE.c[name] == sa.bindparam(f"w_{name}"))
    columns = [TABLE.c[COLUMN_KEYS[key]] for key in value_keys]
    return sa.update(TABLE).where(*conditions).values({
        column: sa.bindparam(f"v_{key}", type_=column.type)
        for key, column in zip(value_keys, columns)})


def value_params(values: dict) -> dict:
    """``values`` (by attribute) as the ``v_`` parameters of a CAS."""
    return {f"v_{key}": value for key, value in values.items()}
