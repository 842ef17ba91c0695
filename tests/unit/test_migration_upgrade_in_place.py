"""A database made by the migrations of before the seam (one history,
revisions 0001 and 0002, services and volumes together) upgrades in place
to the per-application branches with nothing lost."""
from __future__ import annotations

import datetime

import sqlalchemy as sa

from capstan.common.db import migration
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan_volumes import db as volume_db

NOW = datetime.datetime(2026, 11, 30, 12, 0, 0)


def _old_schema(engine: sa.Engine) -> None:
    """The schema as revisions 0001 and 0002 of the single history left
    it, and alembic_version stamped 0002."""
    meta = sa.MetaData()
    stamps = lambda: [sa.Column("created_at", sa.DateTime, nullable=False),  # noqa: E731
                      sa.Column("updated_at", sa.DateTime),
                      sa.Column("deleted_at", sa.DateTime)]
    services = sa.Table(
        "services", meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("binary", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("report_count", sa.Integer, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.String(255)),
        sa.Column("forced_down", sa.Boolean, nullable=False),
        sa.Column("last_seen_up", sa.DateTime), *stamps())
    volumes = sa.Table(
        "volumes", meta,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("project_id", sa.String(255)),
        sa.Column("user_id", sa.String(255)),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("scheduler_hints", sa.JSON, nullable=False),
        sa.Column("schedule_attempts", sa.Integer, nullable=False),
        sa.Column("export_location", sa.String(1024)),
        sa.Column("fault", sa.Text), *stamps())
    sa.Index("volumes_project_created", volumes.c.project_id,
             volumes.c.created_at, volumes.c.id)
    version = sa.Table("alembic_version", meta,
                       sa.Column("version_num", sa.String(32),
                                 primary_key=True))
    meta.create_all(engine)
    with engine.begin() as connection:
        connection.execute(version.insert(), {"version_num": "0002"})
        connection.execute(services.insert(), {
            "host": "node1", "binary": "worker", "topic": "volume",
            "state": "running", "report_count": 7, "disabled": True,
            "disabled_reason": "maintenance", "forced_down": False,
            "last_seen_up": NOW, "created_at": NOW})
        connection.execute(volumes.insert(), {
            "id": "11111111-2222-3333-4444-555555555555", "name": "data",
            "size": 3, "status": "available", "host": "node1",
            "availability_zone": "zone1", "project_id": "p1",
            "user_id": "u1", "metadata": {"tier": "gold"},
            "scheduler_hints": {}, "schedule_attempts": 1,
            "export_location": "/srv/v1", "fault": None, "created_at": NOW})


def test_upgrade_in_place_keeps_rows_and_reaches_every_head(db_url):
    db = Database(db_url)
    try:
        _old_schema(db.engine)
        migration.upgrade(db)
        assert migration.current_revision(db) == migration.head_revision()
        migration.check_schema(db)  # what a service checks at start
        service = Services(db).get_by_host_topic("node1", "volume")
        assert (service.report_count, service.disabled,
                service.disabled_reason) == (7, True, "maintenance")
        volume = volume_db.get(db, "11111111-2222-3333-4444-555555555555")
        assert (volume.name, volume.size, volume.status, volume.host,
                volume.meta, volume.export_location) == (
            "data", 3, "available", "node1", {"tier": "gold"}, "/srv/v1")
        # New rows work on the upgraded schema, next to the old ones.
        volume_db.create(db, id="66666666-2222-3333-4444-555555555555",
                         size=1, status="creating", project_id="p1")
        assert len(volume_db.list_page(db, project_id="p1")) == 2
    finally:
        db.dispose()


def test_fresh_database_gets_both_branches(db_url):
    db = Database(db_url)
    try:
        migration.upgrade(db)
        with db.engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
        assert {"services", "volumes", "alembic_version"} <= tables
        assert migration.stored_revision(db) == migration.heads()
    finally:
        db.dispose()


def test_models_match_the_migrated_schema(db_url):
    """What the framework's and the applications' models declare is what
    their branches create (nothing for --autogenerate to find)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import capstan_volumes.models  # noqa: F401 - its tables on Base
    from capstan.common.db import models

    db = Database(db_url)
    try:
        migration.upgrade(db)
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection),
                                    models.Base.metadata)
        assert diff == []
    finally:
        db.dispose()
