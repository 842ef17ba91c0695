"""``capstan-manage`` run in process against SQLite and PostgreSQL."""
import hashlib
import os
import stat

import pytest

from capstan.common import manage
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan.common.records import ServiceRecord


@pytest.fixture
def conf_file(tmp_path, db_url):
    path = tmp_path / "capstan.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {tmp_path}/state\n"
                    f"[database]\nconnection = {db_url}\n")
    return str(path)


@pytest.fixture
def run(conf_file, capsys):
    """Run capstan-manage; return (exit status, stdout, stderr)."""
    def run(*argv):
        status = manage.main(["--config-file", conf_file, *argv])
        out, err = capsys.readouterr()
        return status, out, err
    return run


@pytest.fixture
def synced(run, db_url):
    """The service queries of the database after ``db sync``, and a
    running service on it."""
    assert run("db", "sync")[0] == 0
    db = Database(db_url)
    record = ServiceRecord(db, host="node-1", binary="worker", topic="volume")
    record.register()
    yield Services(db), record
    db.dispose()


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_db_sync_prints_the_revision_and_is_repeatable(run):
    status, out, _ = run("db", "sync")
    assert status == 0
    assert one_line(out).startswith("database at revision ")

    assert run("db", "sync")[0] == 0


def test_service_list_shows_a_running_service_up(run, synced):
    status, out, _ = run("service", "list")

    assert status == 0
    header, row = out.splitlines()
    assert header.split()[:7] == ["id", "host", "binary", "topic", "status",
                                  "state", "reports"]
    assert row.split()[:6] == [str(synced[1].service_id), "node-1", "worker",
                               "volume", "enabled", "up"]


def test_service_list_before_db_sync_fails_on_one_line(run):
    status, out, err = run("service", "list")

    assert status == 1
    assert out == ""
    assert "capstan-manage db sync" in one_line(err)


def test_service_disable_with_reason_then_enable(run, synced):
    services, record = synced
    seen = services.get(record.service_id).last_seen_up

    assert run("service", "disable", str(record.service_id),
               "--reason", "x")[0] == 0
    row = services.get(record.service_id)
    assert (row.disabled, row.disabled_reason) == (True, "x")
    assert "disabled" in run("service", "list")[1]

    assert run("service", "enable", str(record.service_id))[0] == 0
    row = services.get(record.service_id)
    assert (row.disabled, row.disabled_reason) == (False, None)
    assert row.last_seen_up == seen


@pytest.mark.parametrize("action", ["enable", "disable", "delete"])
def test_service_action_on_unknown_id_fails_on_one_line(run, synced, action):
    status, _, err = run("service", action, "4242")

    assert status == 1
    assert one_line(err) == ("capstan-manage: Service 4242 could not be "
                             "found.")


def test_service_delete_refused_while_up(run, synced):
    services, record = synced

    status, _, err = run("service", "delete", str(record.service_id))

    assert status == 1
    assert "is up" in one_line(err)
    assert services.get(record.service_id).state == "running"


def test_service_delete_works_once_down(run, synced):
    services, record = synced
    record.mark_stopped()

    status, _, err = run("service", "delete", str(record.service_id))

    assert (status, err) == (0, "")
    assert services.get_all() == []
    assert run("service", "list")[1].count("\n") == 1


def test_token_create_appends_a_hashed_line_to_a_private_file(
        run, tmp_path):
    status, out, _ = run("token", "create", "--user", "alice",
                         "--project", "p1", "--roles", "admin,member")
    token = one_line(out)
    assert status == 0
    status, out, _ = run("token", "create", "--user", "bob",
                         "--project", "p2")
    second = one_line(out)

    path = tmp_path / "state" / "tokens"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().splitlines() == [
        f"{hashlib.sha256(token.encode()).hexdigest()} alice p1 admin,member",
        f"{hashlib.sha256(second.encode()).hexdigest()} bob p2 member",
    ]
    assert token != second
    assert token not in path.read_text()


@pytest.mark.parametrize("user, project, roles", [
    ("al ice", "p1", "member"),
    ("alice", "p,1", "member"),
    ("alice", "p1", "ad min"),
    ("", "p1", "member"),
])
def test_token_create_bad_name_fails_and_writes_nothing(
        run, tmp_path, user, project, roles):
    status, out, err = run("token", "create", "--user", user,
                           "--project", project, "--roles", roles)

    assert (status, out) == (1, "")
    assert "invalid name" in one_line(err)
    assert not (tmp_path / "state" / "tokens").exists()


def test_main_missing_config_file_fails_on_one_line(capsys, tmp_path):
    status = manage.main(["--config-file", str(tmp_path / "nope.conf"),
                          "service", "list"])

    assert status == 2
    assert "config file not found" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [("db", "sync"), ("service", "list")])
def test_main_unreachable_database_fails_on_one_line(
        capsys, tmp_path, argv):
    path = tmp_path / "capstan.conf"
    path.write_text("[database]\nconnection = "
                    "postgresql+psycopg://postgres@127.0.0.1:1/capstan\n")

    status = manage.main(["--config-file", str(path), *argv])

    assert status == 1
    assert "Connection refused" in one_line(capsys.readouterr().err)


def test_app_list_shows_each_application_topics_branch_and_plugins(run):
    status, out, err = run("app", "list")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "capstan_volumes"
    assert ("  topic volume: capstan_volumes.volume.manager.VolumeManager"
            in lines)
    assert ("  topic scheduler: "
            "capstan_volumes.scheduler.manager.SchedulerManager") in lines
    assert any(line.startswith("  migrations: ") and "(head 0005)" in line
               for line in lines), out
    assert "  plugins capstan.volume.drivers: fake, file" in lines
