"""The Database (engine, sessions), the migrations and the models, on both
backends."""
import eventlet
from eventlet import event
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from capstan.common import exception
from capstan.common.db import engine as db_engine
from capstan.common.db import migration, models
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan_volumes import db as volume_db

DEAD_PG = "postgresql+psycopg://postgres@127.0.0.1:1/capstan"


def test_upgrade_reaches_head(database):
    assert migration.current_revision(database) == migration.head_revision()
    migration.check_schema(database)


def test_upgrade_schema_matches_the_models(database):
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diff = compare_metadata(context, models.Base.metadata)

    assert diff == []


def test_upgrade_run_twice_is_harmless(database):
    migration.upgrade(database)

    assert migration.current_revision(database) == migration.head_revision()


def test_check_schema_on_an_empty_database_says_to_run_db_sync(db_url):
    db = Database(db_url)
    try:
        with pytest.raises(exception.ServiceUnavailable,
                           match="capstan-manage db sync"):
            migration.check_schema(db)
    finally:
        db.dispose()


def test_check_schema_on_an_unreachable_database_is_one_line():
    db = Database(DEAD_PG)

    with pytest.raises(exception.ServiceUnavailable) as info:
        migration.check_schema(db)

    assert "cannot reach the database" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("url", [
    DEAD_PG, "sqlite:///{tmp_path}/no/such/dir/capstan.sqlite"],
    ids=["postgresql", "sqlite"])
def test_ping_unreachable_database_raises_service_unavailable(tmp_path, url):
    db = Database(url.format(tmp_path=tmp_path))

    with pytest.raises(exception.ServiceUnavailable,
                       match="database unavailable"):
        db.ping()


def test_ping_reachable_database(database):
    database.ping()


def test_database_opens_no_engine_until_used():
    db = Database(DEAD_PG)

    assert db._engine is None
    db.dispose()


def test_session_rolls_back_on_error(database):
    row = Services(database).create("h", "worker", "volume")

    with pytest.raises(RuntimeError):
        with database.session() as session:
            session.get(models.Service, row.id).disabled = True
            raise RuntimeError("abort")

    assert Services(database).get(row.id).disabled is False


def test_session_on_postgresql_does_not_block_other_green_threads(pg_url):
    """psycopg waits through eventlet's hub (PSYCOPG_WAIT_FUNC)."""
    db = Database(pg_url)
    db.ping()       # connect first: only the query itself is under test
    query_done = event.Event()
    iterations = 0

    def slow_query():
        with db.session() as session:
            session.execute(sa.text("SELECT pg_sleep(1)"))
        query_done.send()

    def counter():
        nonlocal iterations
        while not query_done.ready():
            iterations += 1
            eventlet.sleep(0.01)

    query = eventlet.spawn(slow_query)
    count = eventlet.spawn(counter)
    query.wait()
    count.wait()
    db.dispose()

    # A blocked hub lets the counter run once or twice; a free one lets it
    # run close to 100 times during the one-second query.
    assert iterations >= 30


def test_volume_list_paginates_nullable_sort_key_without_losing_rows(database):
    for index in range(7):
        volume_db.create(database, id=f"00000000-0000-0000-0000-00000000000{index}",
                         size=1, status="available",
                         name=None if index % 2 else f"v{index}",
                         project_id="p", meta={}, scheduler_hints={})
    for sort_key in ("name", "updated_at"):
        for sort_dir in ("asc", "desc"):
            seen, marker = [], None
            while True:
                page = volume_db.list_page(database, limit=2, marker=marker,
                                           sort_key=sort_key,
                                           sort_dir=sort_dir)
                if not page:
                    break
                seen += [row.id for row in page]
                marker = page[-1].id
            assert len(seen) == 7 and len(set(seen)) == 7, (sort_key, sort_dir)


def test_volume_sum_size_by_host_counts_live_rows_except_excluded(database):
    for index, (host, size, status) in enumerate([
            ("a", 2, "available"), ("a", 3, "creating"), ("a", 5, "error"),
            ("b", 7, "available")]):
        volume_db.create(database, id=f"10000000-0000-0000-0000-00000000000{index}",
                         size=size, status=status, host=host,
                         meta={}, scheduler_hints={})
    assert volume_db.sum_size_by_host(database, "a") == 10
    assert volume_db.sum_size_by_host(
        database, "a", exclude_statuses=("error",)) == 5
    assert volume_db.sum_size_by_host(database, "nobody") == 0


def test_volume_create_returns_the_row_with_its_defaults(database):
    row = volume_db.create(database, id="20000000-0000-0000-0000-000000000000",
                           size=3, status="creating", meta={"k": "v"})
    assert (row.meta, row.scheduler_hints, row.schedule_attempts) == (
        {"k": "v"}, {}, 0)
    assert row.created_at is not None
    stored = volume_db.get(database, row.id)
    assert (stored.meta, stored.scheduler_hints, stored.size) == (
        {"k": "v"}, {}, 3)
    assert stored.created_at == row.created_at


def test_volume_cas_changes_only_a_live_row_in_an_expected_status(database):
    volume_id = "30000000-0000-0000-0000-000000000000"
    volume_db.create(database, id=volume_id, size=1, status="creating",
                     host="a")
    assert not volume_db.cas(database, volume_id, "deleting", status="error")
    assert volume_db.cas(database, volume_id, ("extending", "creating"),
                         status="available", export_location="x")
    assert not volume_db.cas(database, volume_id, "creating", status="error")
    state = volume_db.get_state(database, volume_id)
    assert (state.host, state.status, state.size) == ("a", "available", 1)
    assert volume_db.cas(database, volume_id, "available",
                         deleted_at=database.now())
    assert volume_db.get_state(database, volume_id) is None
    assert not volume_db.cas(database, volume_id, "available", status="error")


def test_volume_cas_creating_matches_host_and_attempts(database):
    volume_id = "40000000-0000-0000-0000-000000000000"
    volume_db.create(database, id=volume_id, size=1, status="creating")
    assert not volume_db.cas_creating(database, volume_id, expected_host="a",
                                      host="b")
    assert volume_db.cas_creating(database, volume_id, expected_host=None,
                                  host="a", fault=None)
    assert not volume_db.cas_creating(database, volume_id, expected_host=None,
                                      host="b")
    assert not volume_db.cas_creating(database, volume_id, expected_host="a",
                                      attempts=1, schedule_attempts=2)
    assert volume_db.cas_creating(database, volume_id, expected_host="a",
                                  attempts=0, schedule_attempts=1)
    assert volume_db.ids_by_host(database, "a") == [volume_id]
    assert volume_db.get_state(database, volume_id).host == "a"


# -- pinging pooled PostgreSQL connections ----------------------------------

def _backend_pid(db: Database) -> int:
    with db.autocommit() as connection:
        return connection.execute(sa.text("SELECT pg_backend_pid()")).scalar()


def _terminate(db: Database, pid: int) -> None:
    """Kill one server process, as a restart of PostgreSQL would."""
    with sa.create_engine(db.url).connect() as admin:
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                             {"pid": pid}).scalar()


def test_pooled_connection_idle_past_the_limit_is_pinged_and_replaced(
        pg_url, monkeypatch):
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE", 0.05)
    db = Database(pg_url)
    try:
        first = _backend_pid(db)
        _terminate(db, first)
        eventlet.sleep(0.1)  # idle past the limit
        # The dead connection is found and replaced: no error.
        assert _backend_pid(db) != first
    finally:
        db.dispose()


def test_pooled_connection_used_just_now_is_not_pinged(pg_url, monkeypatch):
    # The trade of PING_AFTER_IDLE: a connection checked in less than the
    # limit ago is used unpinged; if the server dropped it meanwhile, that
    # one statement fails as unavailable and the next gets a new one.
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE", 3600)
    db = Database(pg_url)
    try:
        first = _backend_pid(db)
        _terminate(db, first)
        with pytest.raises(exception.ServiceUnavailable):
            _backend_pid(db)
        assert _backend_pid(db) != first
    finally:
        db.dispose()


def test_resource_columns_are_the_resource_mixins():
    class Thing(models.ResourceMixin, models.Base):
        __tablename__ = "test_resource_columns_things"

    try:
        declared = {column.name: (str(column.type), column.nullable,
                                  column.primary_key)
                    for column in Thing.__table__.columns}
        spelled = {column.name: (str(column.type), column.nullable,
                                 column.primary_key)
                   for column in models.resource_columns()}
        assert spelled == declared
    finally:
        models.Base.metadata.remove(Thing.__table__)


def test_autocommit_statement_stays_committed_when_the_block_raises(pg_url):
    # Its own pool, always in autocommit: nothing to roll back.
    db = Database(pg_url)
    try:
        with db.autocommit() as connection:
            connection.execute(sa.text("CREATE TABLE t (n int)"))
        with pytest.raises(RuntimeError):
            with db.autocommit() as connection:
                connection.execute(sa.text("INSERT INTO t VALUES (1)"))
                raise RuntimeError("after the statement")
        with db.transaction() as connection:
            assert connection.execute(sa.text("SELECT n FROM t")).all() == [
                (1,)]
            connection.execute(sa.text("INSERT INTO t VALUES (2)"))
        with pytest.raises(RuntimeError):
            with db.transaction() as connection:
                connection.execute(sa.text("INSERT INTO t VALUES (3)"))
                raise RuntimeError("rolled back")
        with db.autocommit() as connection:
            assert sorted(connection.execute(
                sa.text("SELECT n FROM t")).scalars()) == [1, 2]
    finally:
        db.dispose()
