"""``capstan-manage``: operator commands on the database and tokens.

    capstan-manage [--config-file F] db sync
    capstan-manage service list
    capstan-manage service enable|disable ID [--reason TEXT]
    capstan-manage service delete ID
    capstan-manage token create --user U --project P --roles R1,R2
    capstan-manage app list
"""
from __future__ import annotations

from capstan.common import monkey

monkey.silence_eventlet_warning()

import hashlib  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402

from oslo_config import cfg  # noqa: E402
from sqlalchemy import exc as sa_exc  # noqa: E402

from capstan.common import application, cmd, config, exception  # noqa: E402
from capstan.common import plugins, records  # noqa: E402
from capstan.common.db import migration  # noqa: E402
from capstan.common.db.api import Database  # noqa: E402
from capstan.common.db.services import Services  # noqa: E402


def _add_parsers(subparsers) -> None:
    db = subparsers.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="action", required=True)
    db_sub.add_parser("sync", help="create or upgrade the schema")

    service = subparsers.add_parser("service", help="service records")
    service_sub = service.add_subparsers(dest="action", required=True)
    service_sub.add_parser("list", help="list services with up/down state")
    for action in ("enable", "disable", "delete"):
        parser = service_sub.add_parser(action, help=f"{action} a service")
        parser.add_argument("id", type=int)
        if action == "disable":
            parser.add_argument("--reason", default=None)

    app = subparsers.add_parser("app", help="installed applications")
    app_sub = app.add_subparsers(dest="action", required=True)
    app_sub.add_parser("list", help="list applications, their topics, "
                                    "migration branches and plugins")

    token = subparsers.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="create and print a token")
    create.add_argument("--user", required=True)
    create.add_argument("--project", required=True)
    create.add_argument("--roles", default="member",
                        help="comma-separated roles, e.g. admin,member")


command_opt = cfg.SubCommandOpt("command", title="commands",
                                handler=_add_parsers)


def main(argv: list[str] | None = None) -> int:
    conf = config.make_conf()
    conf.register_cli_opt(command_opt)
    try:
        cmd.parse(conf, argv)
    except config.ConfigError as exc:
        return cmd.fail("capstan-manage", str(exc))
    handler = HANDLERS[(conf.command.name, conf.command.action)]
    try:
        return handler(conf) or 0
    except exception.NotFound as exc:
        return cmd.fail("capstan-manage", str(exc), status=1)
    except (exception.CapstanError, OSError) as exc:
        return cmd.fail("capstan-manage", str(exc), status=1)
    except sa_exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return cmd.fail("capstan-manage", f"database error: {reason}",
                        status=1)


def _database(conf: cfg.ConfigOpts, check_schema: bool = True) -> Database:
    if conf.database.connection.startswith("sqlite"):
        config.ensure_state_path(conf)
    db = Database(conf.database.connection)
    if check_schema:
        # One line naming 'db sync' instead of a "no such table" traceback.
        migration.check_schema(db)
    return db


def db_sync(conf: cfg.ConfigOpts) -> None:
    db = _database(conf, check_schema=False)
    migration.upgrade(db)
    print(f"database at revision {migration.current_revision(db)}")


def service_list(conf: cfg.ConfigOpts) -> None:
    db = _database(conf)
    now = db.now()
    print(f"{'id':>4} {'host':<24} {'binary':<12} {'topic':<12} "
          f"{'status':<9} {'state':<5} {'reports':>8} last_seen_up")
    for row in Services(db).get_all():
        up = records.is_up(row, now=now,
                           service_down_time=conf.service_down_time)
        status = "disabled" if row.disabled else "enabled"
        print(f"{row.id:>4} {row.host:<24} {row.binary:<12} {row.topic:<12} "
              f"{status:<9} {'up' if up else 'down':<5} "
              f"{row.report_count:>8} {row.last_seen_up}")


def service_enable(conf: cfg.ConfigOpts) -> None:
    Services(_database(conf)).update(conf.command.id, disabled=False,
                                     disabled_reason=None)


def service_disable(conf: cfg.ConfigOpts) -> None:
    Services(_database(conf)).update(conf.command.id, disabled=True,
                                     disabled_reason=conf.command.reason)


def service_delete(conf: cfg.ConfigOpts) -> None:
    db = _database(conf)
    services = Services(db)
    row = services.get(conf.command.id)
    if records.is_up(row, now=db.now(),
                     service_down_time=conf.service_down_time):
        raise exception.ServiceIsUp(service_id=row.id)
    services.destroy(row.id)


def token_create(conf: cfg.ConfigOpts) -> None:
    """Print a new token once; store only its sha256 in token_file."""
    roles = [r.strip() for r in conf.command.roles.split(",") if r.strip()]
    for value in (conf.command.user, conf.command.project, *roles):
        if not value or any(ch.isspace() for ch in value) or "," in value:
            raise exception.Invalid(f"invalid name {value!r}: no spaces or "
                                    "commas")
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    path = conf.api.token_file
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a") as handle:
        handle.write(f"{digest} {conf.command.user} {conf.command.project} "
                     f"{','.join(roles)}\n")
    print(token)


def app_list(conf: cfg.ConfigOpts) -> None:
    """What each installed application brings, as this config runs it:
    the Manager of each topic, the revisions of its migration branch and
    the plugins installed in each of its namespaces."""
    for app in application.load_applications():
        print(app.name)
        for topic in app.topics:
            manager = getattr(conf, f"{topic.name}_manager")
            print(f"  topic {topic.name}: {manager}")
        if app.migrations:
            print(f"  migrations: {app.migrations} "
                  f"(head {migration.branch_heads(app.migrations)})")
        for namespace in app.plugin_namespaces:
            print(f"  plugins {namespace}: "
                  f"{', '.join(plugins.names(namespace)) or 'none installed'}")


HANDLERS = {
    ("app", "list"): app_list,
    ("db", "sync"): db_sync,
    ("service", "list"): service_list,
    ("service", "enable"): service_enable,
    ("service", "disable"): service_disable,
    ("service", "delete"): service_delete,
    ("token", "create"): token_create,
}


if __name__ == "__main__":
    sys.exit(main())
