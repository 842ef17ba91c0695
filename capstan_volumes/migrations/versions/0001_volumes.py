"""volumes

Revision ID: 0001
Revises: c0001 (the framework's base revision)
Create Date: 2026-11-20
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
# NOTE(capstan): an application's branch starts from the framework's base
# revision. This revision once created the framework's services table too
# (one history for both), so a database stamped 0001 or 0002 has c0001's
# table already, which this parentage tells alembic.
down_revision = "c0001"
branch_labels = ("capstan_volumes",)
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime()),
            sa.Column("deleted_at", sa.DateTime())]


def upgrade() -> None:
    op.create_table(
        "volumes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("project_id", sa.String(255)),
        sa.Column("user_id", sa.String(255)),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("scheduler_hints", sa.JSON(), nullable=False),
        sa.Column("schedule_attempts", sa.Integer(), nullable=False),
        sa.Column("export_location", sa.String(1024)),
        sa.Column("fault", sa.Text()),
        *_timestamps(),
    )
    op.create_index("volumes_project_id", "volumes", ["project_id"])
    op.create_index("volumes_host_status", "volumes", ["host", "status"])


def downgrade() -> None:
    op.drop_table("volumes")
