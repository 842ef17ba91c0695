"""services.rpc_version: the RPC version each service's Manager serves

Revision ID: c0004
Revises: c0003
Create Date: 2026-12-03

Written by each service when it registers; RPC clients cap what they send
to a topic at the lowest version its running services serve (rolling
upgrades). NULL for the records of services started before this revision.
"""
import sqlalchemy as sa
from alembic import op

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("rpc_version", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("rpc_version")
