"""aggregates: named groups of hosts with a zone and metadata

Revision ID: c0003
Revises: c0002
Create Date: 2026-12-02

What ``/v1/os-aggregates`` manages and the schedulers place by: an
aggregate's name is unique among its live (not soft-deleted) rows; a host
is in an aggregate at most once.
"""
import sqlalchemy as sa
from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aggregates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime()),
        sa.Column("deleted_at", sa.DateTime()),
    )
    op.create_index("aggregates_name_live", "aggregates", ["name"],
                    unique=True, sqlite_where=sa.text("deleted_at IS NULL"),
                    postgresql_where=sa.text("deleted_at IS NULL"))
    op.create_table(
        "aggregate_hosts",
        sa.Column("aggregate_id", sa.Integer(),
                  sa.ForeignKey("aggregates.id"), primary_key=True),
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("aggregate_hosts")
    op.drop_table("aggregates")
