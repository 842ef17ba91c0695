"""The SQLAlchemy engine of a :class:`~common.db.api.Database`."""
from __future__ import annotations

import json
import time
from typing import Callable

import sqlalchemy as sa


def create_engine(url: str, pool_size: int, max_overflow: int) -> sa.Engine:
    """An engine for ``url``: SQLite in WAL mode, or a pooled server."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30},
                                  json_deserializer=_json_loads)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = sa.create_engine(url, pool_size=pool_size,
                              max_overflow=max_overflow,
                              json_deserializer=_json_loads)
    _ping_after_idle(engine)
    return engine


def create_autocommit_engine(engine: sa.Engine, pool_size: int
                             ) -> sa.Engine:
    """An engine whose connections commit each statement by themselves:
    for a server database, one with its own pool of ``pool_size`` and no
    overflow; for SQLite, ``engine`` itself switched to autocommit at
    each checkout (a second engine would open a second in-memory
    database, and SQLite has no round trips to save).

    NOTE(capstan): switching a connection of the main pool to autocommit
    at each checkout and back at each checkin cost ~95 us of CPU per
    statement on PostgreSQL (267 against 173 us for a SELECT by id,
    measured in process); the create path runs three such statements per
    resource.
    """
    if engine.url.get_backend_name() == "sqlite":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    autocommit = sa.create_engine(
        engine.url, pool_size=pool_size, max_overflow=0,
        isolation_level="AUTOCOMMIT", json_deserializer=_json_loads)
    _ping_after_idle(autocommit)
    return autocommit


# A pooled connection idle longer than this is pinged before it is used.
PING_AFTER_IDLE = 1.0


def _ping_after_idle(engine: sa.Engine) -> None:
    """Replace connections the server dropped before handing them out.

    pool_pre_ping's check, for connections that sat idle in the pool for
    more than PING_AFTER_IDLE seconds only. A restart of PostgreSQL takes
    longer than that, so every connection that lived through one is
    pinged, found dead and replaced before the first query after the
    outage. NOTE(capstan): pinging at every checkout cost a round trip
    per statement on the create path, where each process checks out a
    connection per statement (docs/benchmarks.md, benchmark 3).
    """
    @sa.event.listens_for(engine, "checkin")
    def checked_in(_dbapi_connection, record) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def checking_out(dbapi_connection, record, _proxy) -> None:
        # record.info is emptied when its DBAPI connection is replaced, so
        # a fresh connection has no mark and is not pinged.
        checked_in_at = record.info.get("checked_in_at")
        if (checked_in_at is None
                or time.monotonic() - checked_in_at < PING_AFTER_IDLE):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and checks out another
            # (SQLAlchemy's documented pessimistic-disconnect recipe).
            raise sa.exc.DisconnectionError(str(exc)) from exc


# JSON column texts common enough to skip the parser for (a copy each time:
# the caller may change what it gets).
# psycopg hands the deserializer bytes, sqlite3 str.
_JSON_CONSTANTS: dict[str | bytes, Callable[[], object]] = {
    "{}": dict, "[]": list, "null": lambda: None,
    b"{}": dict, b"[]": list, b"null": lambda: None}


def _json_loads(text: str | bytes) -> object:
    """json.loads, with the empty document and null taken as they are.

    NOTE(capstan): most JSON columns hold ``{}`` (metadata nobody set);
    parsing it through json.loads cost ~2.5 us a column, ~50 us of a
    20-row page.
    """
    constant = _JSON_CONSTANTS.get(text)
    return constant() if constant is not None else json.loads(text)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the API) proceed while a writer holds the lock.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
