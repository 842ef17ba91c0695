"""The SQLAlchemy engine of a :class:`~common.db.api.Database`."""
from __future__ import annotations

import json
from typing import Callable

import sqlalchemy as sa


def create_engine(url: str, pool_size: int, max_overflow: int) -> sa.Engine:
    """An engine for ``url``: SQLite in WAL mode, or a pooled server."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30},
                                  json_deserializer=_json_loads)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # pre_ping replaces connections the server dropped (a restart of
    # PostgreSQL), so the first query after an outage does not fail.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=pool_size,
                            max_overflow=max_overflow,
                            json_deserializer=_json_loads)


# JSON column texts common enough to skip the parser for (a copy each time:
# the caller may change what it gets).
# psycopg hands the deserializer bytes, sqlite3 str.
_JSON_CONSTANTS: dict[str | bytes, Callable[[], object]] = {
    "{}": dict, "[]": list, "null": lambda: None,
    b"{}": dict, b"[]": list, b"null": lambda: None}


def _json_loads(text: str | bytes) -> object:
    """json.loads, with the empty document and null taken as they are.

    NOTE(capstan): nearly every volume's metadata is ``{}``; parsing it
    through json.loads cost ~2.5 us a column, ~50 us of a 20-volume page.
    """
    constant = _JSON_CONSTANTS.get(text)
    return constant() if constant is not None else json.loads(text)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the API) proceed while a writer holds the lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
