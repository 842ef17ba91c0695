"""Alembic migrations, driven from Python (``capstan-manage db sync``).

NOTE(capstan): alembic is imported only by the functions that migrate.
Importing it costs ~11 MiB of resident memory that a service would keep
for its whole life just to compare one revision at start
(docs/benchmarks.md, benchmark 6); :func:`check_schema` reads the stored
revision with one query and compares it with :data:`HEAD_REVISION`, which
tests/unit/test_migration.py keeps equal to alembic's head.
"""
from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from capstan.common import exception
from capstan.common.db.api import Database

SCRIPT_LOCATION = os.path.join(os.path.dirname(__file__), "migrations")
# The newest revision under migrations/versions.
HEAD_REVISION = "0002"


def _alembic_config(db: Database):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # env.py takes the engine from here rather than from a URL option, so
    # passwords never pass through ConfigParser interpolation.
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run again."""
    from alembic import command

    command.upgrade(_alembic_config(db), revision)


def head_revision() -> str:
    """The head revision according to alembic's script directory."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def stored_revision(db: Database) -> str | None:
    """The revision recorded in the database, without importing alembic."""
    with db.engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(
            sa.text("SELECT version_num FROM alembic_version")).scalar()


def check_schema(db: Database) -> None:
    """Raise ServiceUnavailable unless the schema is at the head revision.

    Services call this at start so that a forgotten ``db sync`` is one clear
    line in the log instead of a "no such table" traceback later.
    """
    try:
        current = stored_revision(db)
    except sa_exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise exception.ServiceUnavailable(
            f"cannot reach the database: {reason}") from None
    head = HEAD_REVISION
    if current != head:
        raise exception.ServiceUnavailable(
            f"database schema is at {current or 'nothing'}, expected {head}; "
            "run 'capstan-manage db sync'")
