from capstan.common.db import migration


def test_head_revision_constant_is_alembic_head():
    assert migration.HEAD_REVISION == migration.head_revision()
