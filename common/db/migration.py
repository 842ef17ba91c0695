"""Alembic migrations, driven from Python (``capstan-manage db sync``)."""
from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc as sa_exc

from common import exception
from common.db.api import Database

SCRIPT_LOCATION = os.path.join(os.path.dirname(__file__), "migrations")


def _alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # env.py takes the engine from here rather than from a URL option, so
    # passwords never pass through ConfigParser interpolation.
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run again."""
    command.upgrade(_alembic_config(db), revision)


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(db: Database) -> None:
    """Raise ServiceUnavailable unless the schema is at the head revision.

    Services call this at start so that a forgotten ``db sync`` is one clear
    line in the log instead of a "no such table" traceback later.
    """
    try:
        current = current_revision(db)
    except sa_exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise exception.ServiceUnavailable(
            f"cannot reach the database: {reason}") from None
    head = head_revision()
    if current != head:
        raise exception.ServiceUnavailable(
            f"database schema is at {current or 'nothing'}, expected {head}; "
            "run 'capstan-manage db sync'")
