"""resource inventories and allocations: capacity claims in the database

Revision ID: c0002
Revises: c0001
Create Date: 2026-12-02

Each host's inventory per resource class (written by its worker's
reports) and each consumer's allocations (claimed by a scheduler in the
same transaction as its placement). An application's branch may fill the
allocations of what it placed before this revision.
"""
import sqlalchemy as sa
from alembic import op

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_inventories",
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("resource_class", sa.String(64), primary_key=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("allocation_ratio", sa.Float(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime()),
    )
    op.create_table(
        "resource_allocations",
        sa.Column("consumer_id", sa.String(64), primary_key=True),
        sa.Column("resource_class", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("resource_allocations_host_class",
                    "resource_allocations", ["host", "resource_class"])


def downgrade() -> None:
    op.drop_table("resource_allocations")
    op.drop_table("resource_inventories")
