"""The ``api-server`` binary: the paste app of the API in 1..N processes.

    api-server [--config-file capstan.conf] [--all-in-one]

The listening socket is bound here, before anything else is built. With
``[api] api_workers`` above 1 the parent then only forks: each worker
builds its own database, transport, app and WSGIService around the shared
socket (DESIGN.md 2: nothing is opened before the fork).

``--all-in-one`` runs a worker for every topic of the installed
applications next to the API, in this one process, on one shared Database and transport (api/all_in_one.py).

Exit status: 0 after a clean stop (SIGTERM, SIGINT); 2 for a bad config or
paste file, with one line on stderr naming the file and section; 1 when a
service cannot start (database unreachable or not synced, port in use).
"""
from capstan.common import monkey

monkey.patch()

import functools  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import socket as socket_module  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from typing import Callable, NoReturn  # noqa: E402

import eventlet.hubs  # noqa: E402
from oslo_config import cfg  # noqa: E402

from capstan.api import all_in_one, factories  # noqa: E402
from capstan.api.deps import APIDeps  # noqa: E402
from capstan.api.manager import APIManager  # noqa: E402
from capstan.common import cmd, config, exception, rpc  # noqa: E402
from capstan.common.db.api import Database  # noqa: E402
from capstan.common.launcher import ProcessLauncher, ServiceLauncher  # noqa: E402
from capstan.common.wsgi import bind_socket  # noqa: E402
from capstan.common.wsgi_service import (  # noqa: E402
    App, Loader, WSGIService, find_paste_config)

LOG = logging.getLogger(__name__)

BINARY = "api-server"
# The app of the paste file that the server loads (etc/api-paste.ini).
APP_NAME = "main"

cli_opts: list[cfg.Opt] = [
    cfg.BoolOpt("all-in-one", default=False,
                help="Also run a worker for every application topic in this "
                     "process, and sync the database schema first: a whole "
                     "capstan for a first run or for development, on the "
                     "embedded defaults (SQLite, fake://)."),
]


class BuildError(Exception):
    """The paste app cannot be built; main() exits 2 with the message."""


class ListenError(Exception):
    """The API socket cannot be bound; main() exits 1 with the message."""


def main(argv: list[str] | None = None) -> int:
    conf = config.make_conf()
    conf.register_cli_opts(cli_opts)
    try:
        cmd.parse(conf, argv)
        paste_path = find_paste_config(conf)
    except config.ConfigError as exc:
        return cmd.fail(BINARY, str(exc))
    cmd.setup_logging(conf)
    if conf.all_in_one:
        try:
            all_in_one.apply_defaults(conf)
        except config.ConfigError as exc:
            return cmd.fail(BINARY, str(exc))
    elif (conf.api.auth_strategy == "noauth"
          and not all_in_one.is_loopback(conf.api.bind_host)):
        # Allowed (a container behind an authenticating proxy), but loud.
        LOG.warning("[api] auth_strategy = noauth on bind_host %s, which is "
                    "not loopback: anyone who reaches it can act as any "
                    "user and project, admin included; use token outside "
                    "development", conf.api.bind_host)
    if conf.database.connection.startswith("sqlite"):
        config.ensure_state_path(conf)
    try:
        cmd.exit_process(_run(conf, paste_path))
    except BuildError as exc:
        return cmd.fail(BINARY, str(exc))
    except (ListenError, exception.CapstanError) as exc:
        error = str(exc)
    LOG.error("%s cannot start: %s", BINARY, error)
    return cmd.fail(BINARY, error, status=1)


def build_deps(conf: cfg.ConfigOpts) -> APIDeps:
    """What the app and the API's manager share; nothing is opened yet."""
    db = Database(conf.database.connection,
                  pool_size=conf.database.pool_size,
                  max_overflow=conf.database.max_overflow)
    return APIDeps(conf=conf, db=db, transport=rpc.get_transport(conf))


def build_loader(paste_path: str, deps: APIDeps) -> Loader:
    """A Loader whose apps are built on ``deps``; raises BuildError."""
    return Loader(paste_path, functools.partial(_load_app, deps=deps))


def build_app(conf: cfg.ConfigOpts, paste_path: str) -> App:
    """Build the app alone, on deps of its own (the pre-fork check)."""
    return build_loader(paste_path, build_deps(conf)).load_app(APP_NAME)


def build_service(conf: cfg.ConfigOpts, paste_path: str,
                  socket: socket_module.socket | None = None,
                  deps: APIDeps | None = None) -> WSGIService:
    """Build the app and its WSGIService; runs where it serves."""
    deps = deps or build_deps(conf)
    manager = APIManager(conf=conf, host=conf.host, db=deps.db,
                         transport=deps.transport, service_name="api")
    return WSGIService(APP_NAME, build_loader(paste_path, deps), conf,
                       db=deps.db, manager=manager, socket=socket)


def _load_app(path: str, name: str, deps: APIDeps) -> App:
    try:
        return factories.load_app(path, name, deps)
    except (exception.PasteConfigError, config.ConfigError) as exc:
        raise BuildError(str(exc)) from None


def _run(conf: cfg.ConfigOpts, paste_path: str) -> int:
    workers = conf.api.api_workers
    if workers > 1:
        _check_in_child(functools.partial(build_app, conf, paste_path))
    sock = _bind(conf)
    try:
        if conf.all_in_one:
            # NOTE(capstan): one deps for all three services: a fake://
            # bus is per transport object (DESIGN.md 2, RPC).
            return all_in_one.run(conf, build_deps(conf), functools.partial(
                build_service, conf, paste_path, sock))
        _log_listening(*sock.getsockname()[:2])
        if workers > 1:
            return _run_workers(conf, paste_path, sock, workers)
        return _run_single(conf, build_service(conf, paste_path, sock))
    finally:
        sock.close()


def _bind(conf: cfg.ConfigOpts) -> socket_module.socket:
    host, port = conf.api.bind_host, conf.api.bind_port
    try:
        return bind_socket(host, port, conf.api.backlog)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: "
                          f"{exc.strerror or exc}") from None


def _run_single(conf: cfg.ConfigOpts, service: WSGIService) -> int:
    launcher = ServiceLauncher(conf.graceful_shutdown_timeout,
                               reload_config=conf.mutate_config_files)
    try:
        launcher.launch_service(service)
        return launcher.wait()
    finally:
        service.close()


def _run_workers(conf: cfg.ConfigOpts, paste_path: str,
                 sock: socket_module.socket, workers: int) -> int:
    """Serve in forked workers that share ``sock``."""
    launcher = ProcessLauncher(conf.graceful_shutdown_timeout,
                               reload_config=conf.mutate_config_files)
    launcher.launch_service(
        functools.partial(build_service, conf, paste_path, sock), workers)
    return launcher.wait()


def _check_in_child(build: Callable[[], object]) -> None:
    """Run ``build`` in a throwaway child; raise BuildError if it fails.

    NOTE(capstan): workers build the app after the fork, so a bad paste
    file would fail every worker and the launcher would respawn them for
    ever. Building it once in a child that only reports back catches that
    at start, with the same message, while this process opens nothing.
    """
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # eventlet warns on every fork; this child uses a fresh hub.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _report_build(build, write_fd)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        message = pipe.read().decode("utf-8", "replace")
    os.waitpid(pid, 0)
    if message:
        raise BuildError(message)


def _report_build(build: Callable[[], object], write_fd: int) -> NoReturn:
    message = ""
    try:
        eventlet.hubs.use_hub()
        build()
    except BuildError as exc:
        message = str(exc)
    except BaseException as exc:  # noqa: B036 - reported, then exit
        message = f"cannot build app {APP_NAME!r}: {exc}".splitlines()[0]
    finally:
        os.write(write_fd, message.encode("utf-8"))
        os._exit(0)


def _log_listening(host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    LOG.info("listening on http://%s:%s", shown, port)


if __name__ == "__main__":
    sys.exit(main())
