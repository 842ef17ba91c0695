from capstan.common.db import migration


def test_head_revision_constant_is_alembic_head():
    # The heads check_schema compares with are derived from the revision
    # files; alembic must agree with them.
    assert migration.heads() == migration.head_revision()
