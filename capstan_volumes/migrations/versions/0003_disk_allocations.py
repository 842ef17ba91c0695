"""disk allocations of the volumes placed before claims

Revision ID: 0003
Revises: 0002
Depends on: c0002 (the framework's inventories and allocations)
Create Date: 2026-12-02

Every live volume that holds space on its host (placed, and not in error)
gets its DISK_GB allocation, so that the host's inventory, created by its
first report after the upgrade, starts from what is already there.
"""
import datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = "c0002"


def upgrade() -> None:
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    volumes = sa.table("volumes", sa.column("id"), sa.column("host"),
                       sa.column("size"), sa.column("status"),
                       sa.column("deleted_at"))
    allocations = sa.table("resource_allocations", sa.column("consumer_id"),
                           sa.column("resource_class"), sa.column("host"),
                           sa.column("amount"), sa.column("created_at"))
    op.execute(allocations.insert().from_select(
        ["consumer_id", "resource_class", "host", "amount", "created_at"],
        sa.select(volumes.c.id, sa.literal("DISK_GB"), volumes.c.host,
                  volumes.c.size, sa.literal(now, sa.DateTime()))
        .where(volumes.c.deleted_at.is_(None), volumes.c.host.is_not(None),
               volumes.c.status != "error")))


def downgrade() -> None:
    op.execute("DELETE FROM resource_allocations "
               "WHERE resource_class = 'DISK_GB'")
