"""Alembic migrations, driven from Python (``capstan-manage db sync``).

One alembic environment, several branches: the framework's own tables in
the branch labelled ``capstan`` (``migrations/versions``), each
application's in its own branch, from the directory its declaration names
(``Application.migrations``). ``upgrade`` brings every branch to its head;
the heads are read from the revision files, never kept by hand.

NOTE(capstan): alembic is imported only by the functions that migrate.
Importing it costs ~11 MiB of resident memory that a service would keep
for its whole life just to compare revisions at start (docs/benchmarks.md,
benchmark 6); :func:`check_schema` reads the stored revisions with one
query and compares them with :func:`heads`, which reads the revision files
with ``ast`` (tests/unit/test_migration_head.py keeps it equal to
alembic's own answer).
"""
from __future__ import annotations

import ast
import functools
import os
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from capstan.common import application, exception
from capstan.common.db.api import Database

SCRIPT_LOCATION = os.path.join(os.path.dirname(__file__), "migrations")
FRAMEWORK_VERSIONS = os.path.join(SCRIPT_LOCATION, "versions")
# The framework's first revision: an application's first revision names it
# as its down_revision, which starts the application's branch.
FRAMEWORK_BASE = "c0001"


def version_locations(
        applications: Iterable[application.Application] | None = None
) -> tuple[str, ...]:
    """The framework's revision directory and those of ``applications``
    (default: the installed ones)."""
    if applications is None:
        applications = application.load_applications()
    return (FRAMEWORK_VERSIONS,) + tuple(
        app.migrations for app in applications if app.migrations)


def _alembic_config(db: Database | None, locations: tuple[str, ...]):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("version_locations", " ".join(locations))
    config.set_main_option("path_separator", "space")
    if db is not None:
        # env.py takes the engine from here rather than from a URL option,
        # so passwords never pass through ConfigParser interpolation.
        config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "heads", *,
            applications: Iterable[application.Application] | None = None
            ) -> None:
    """Bring every branch to ``revision`` (all heads); safe to run again."""
    from alembic import command

    command.upgrade(_alembic_config(db, version_locations(applications)),
                    revision)


def head_revision(applications: Iterable[application.Application] | None
                  = None) -> str:
    """The revisions alembic keeps in ``alembic_version`` once every branch
    is at its head, sorted and joined with spaces.

    That is alembic's heads less those another revision ``depends_on``
    (an application's revision that needs a framework table): alembic
    counts such a head as applied by the revision that depends on it.
    """
    from alembic.script import ScriptDirectory

    config = _alembic_config(None, version_locations(applications))
    script = ScriptDirectory.from_config(config)
    needed = {dependency for revision in script.walk_revisions()
              for dependency in _as_tuple(revision.dependencies)}
    return " ".join(sorted(set(script.get_heads()) - needed))


def current_revision(db: Database) -> str | None:
    """The stored revisions (sorted, joined with spaces), None if none."""
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return " ".join(sorted(heads)) or None


def stored_revision(db: Database) -> str | None:
    """:func:`current_revision` without importing alembic."""
    with db.engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(
            sa.text("SELECT version_num FROM alembic_version")).scalars()
        return " ".join(sorted(rows)) or None


def heads(applications: Iterable[application.Application] | None = None
          ) -> str:
    """The head revisions, read from the revision files without alembic.

    A head is a revision that no other revision names as its
    ``down_revision`` or in its ``depends_on``.
    """
    return _heads(version_locations(applications))


def branch_heads(directory: str) -> str:
    """The heads of the revisions in ``directory`` alone: one branch,
    such as an application's (``Application.migrations``)."""
    return _heads((directory,))


@functools.lru_cache(maxsize=8)
def _heads(locations: tuple[str, ...]) -> str:
    revisions, parents = set(), set()
    for directory in locations:
        for name in sorted(os.listdir(directory)):
            if name.endswith(".py"):
                fields = _revision_fields(os.path.join(directory, name))
                revisions.add(fields["revision"])
                for key in ("down_revision", "depends_on"):
                    parents.update(_as_tuple(fields.get(key)))
    return " ".join(sorted(revisions - parents))


def _revision_fields(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    fields = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            try:
                fields[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return fields


def _as_tuple(value) -> tuple:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def check_schema(db: Database,
                 applications: Iterable[application.Application] | None
                 = None) -> None:
    """Raise ServiceUnavailable unless every branch is at its head.

    Services call this at start so that a forgotten ``db sync`` is one clear
    line in the log instead of a "no such table" traceback later.
    """
    try:
        current = stored_revision(db)
    except sa_exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise exception.ServiceUnavailable(
            f"cannot reach the database: {reason}") from None
    head = heads(applications)
    if current != head:
        raise exception.ServiceUnavailable(
            f"database schema is at {current or 'nothing'}, expected {head}; "
            "run 'capstan-manage db sync'")
