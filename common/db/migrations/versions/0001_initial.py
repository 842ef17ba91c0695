"""services and volumes

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime()),
            sa.Column("deleted_at", sa.DateTime())]


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("binary", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(255)),
        sa.Column("forced_down", sa.Boolean(), nullable=False),
        sa.Column("last_seen_up", sa.DateTime()),
        *_timestamps(),
    )
    op.create_index("services_host_topic_live", "services", ["host", "topic"],
                    unique=True, sqlite_where=sa.text("deleted_at IS NULL"),
                    postgresql_where=sa.text("deleted_at IS NULL"))
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
    op.drop_table("services")
