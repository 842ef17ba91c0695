"""volumes.scheduled_by: the scheduler that placed or re-sent a volume

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

A volume still creating whose scheduler crashed is re-sent as soon as that
scheduler's service record reads down, not after a fixed delay.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.add_column(sa.Column("scheduled_by", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.drop_column("scheduled_by")
