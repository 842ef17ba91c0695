"""snapshots, and volumes.snapshot_id (a volume made from one)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from capstan.common.db.models import resource_columns

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "snapshots", *resource_columns(),
        sa.Column("name", sa.String(255)),
        sa.Column("description", sa.String(255)),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False))
    op.create_index("snapshots_created", "snapshots", ["created_at", "id"])
    op.create_index("snapshots_volume", "snapshots", ["volume_id"])
    with op.batch_alter_table("volumes") as batch:
        batch.add_column(sa.Column("snapshot_id", sa.String(36)))


def downgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.drop_column("snapshot_id")
    op.drop_table("snapshots")
