"""``api-server --all-in-one``: the API and a worker for every topic of the
installed applications in one process (DESIGN.md 4, the seeds' ``nova-combined``).

For a first run and for development. It works with no config file at all:
SQLite under ``state_path``, the ``fake://`` bus, and what the
applications' options default to. What it does that the separate binaries leave to
the operator:

* it brings the schema to head itself (``capstan-manage db sync``);
* the services share ONE Database and ONE transport object: a
  ``fake://`` bus is per transport object, so a second one would be a
  second, deaf bus (common/rpc.py);
* it adjusts defaults that only make sense for several processes, each
  only when the operator left the option unset (:func:`apply_defaults`).

Authentication (:func:`apply_defaults`): on a loopback ``bind_host`` the
default is ``noauth``, so that ``curl`` works at once with ``X-User-Id``
and ``X-Project-Id`` headers; nothing beyond this machine can reach it.
Bound beyond loopback, the default stays ``token`` and an explicit
``noauth`` is refused (exit 2): anyone on the network could then act as
admin. In token mode a first start (no ``[api] token_file`` yet) creates
one admin token and prints it once on stdout; it is never logged.
"""
from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import secrets
import socket
import sys
from typing import Callable

from oslo_config import cfg
from sqlalchemy import exc as sa_exc

from capstan.api.deps import APIDeps
from capstan.common import application, config, exception
from capstan.common.db import migration
from capstan.common.launcher import ServiceLauncher
from capstan.common.service import Service
from capstan.common.wsgi_service import WSGIService

LOG = logging.getLogger(__name__)

BINARY = "api-server"
# The identity the first-start token carries (token mode only).
ADMIN_TOKEN_IDENTITY = ("admin", "admin", "admin")


def apply_defaults(conf: cfg.ConfigOpts) -> None:
    """Adjust options for one process; raise ConfigError when unsafe.

    Only options the operator did not set (no config file, command line or
    environment value) are changed; each change is logged.
    """
    if not _is_set(conf, "periodic_fuzzy_delay"):
        # One process has nothing to spread out, and the first capability
        # report should reach the scheduler now, not up to a minute later.
        conf.set_override("periodic_fuzzy_delay", 0)
    if conf.api.api_workers > 1:
        LOG.warning("--all-in-one runs in one process: ignoring [api] "
                    "api_workers = %d", conf.api.api_workers)
        conf.set_override("api_workers", 1, group="api")
    _choose_auth_strategy(conf)


def _choose_auth_strategy(conf: cfg.ConfigOpts) -> None:
    host = conf.api.bind_host
    loopback = is_loopback(host)
    if loopback and not _is_set(conf, "auth_strategy", "api"):
        conf.set_override("auth_strategy", "noauth", group="api")
    if conf.api.auth_strategy == "noauth" and not loopback:
        raise config.ConfigError(
            f"--all-in-one refuses [api] auth_strategy = noauth on bind_host "
            f"{host}, which is not loopback: anyone who reaches it could act "
            "as admin; bind 127.0.0.1 or use auth_strategy = token")


def _is_set(conf: cfg.ConfigOpts, name: str, group: str | None = None) -> bool:
    return conf.get_location(name, group).location.is_user_controlled


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False  # it cannot be bound either; err on the safe side
    return bool(infos) and all(
        ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback
        for info in infos)


def run(conf: cfg.ConfigOpts, deps: APIDeps,
        build_api: Callable[[APIDeps], WSGIService]) -> int:
    """Sync the schema, start the three services, serve until a signal."""
    sync_schema(deps)
    token = ensure_admin_token(conf)
    api = build_api(deps)
    launcher = ServiceLauncher(conf.graceful_shutdown_timeout,
                               reload_config=conf.mutate_config_files)
    try:
        # In the order the applications declare their topics.
        for topic in application.topics(deps.applications):
            launcher.launch_service(Service.create(
                conf, deps.db, deps.transport, topic=topic.name,
                binary=BINARY))
        launcher.launch_service(api)
    except BaseException:
        launcher.stop()  # the services that did start, records marked
        api.close()
        raise
    _announce(conf, deps.applications, api.host, api.port, token)
    try:
        return launcher.wait()
    finally:
        api.close()


def sync_schema(deps: APIDeps) -> None:
    """``db sync``: a first-time user has not run it; raise CapstanError."""
    try:
        before = migration.current_revision(deps.db)
        migration.upgrade(deps.db, applications=deps.applications)
        after = migration.current_revision(deps.db)
    except sa_exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise exception.ServiceUnavailable(
            f"cannot sync the database schema: {reason}") from None
    if before != after:
        LOG.info("database schema upgraded from %s to %s",
                 before or "nothing", after)


def ensure_admin_token(conf: cfg.ConfigOpts) -> str | None:
    """In token mode, create an admin token if there is no token file.

    Returns the new token (to be printed once), or None. The file gets the
    line ``capstan-manage token create`` would write: only the sha256.
    """
    path = conf.api.token_file
    if conf.api.auth_strategy != "token" or os.path.exists(path):
        return None
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    user, project, roles = ADMIN_TOKEN_IDENTITY
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{digest} {user} {project} {roles}\n")
    LOG.info("created an admin token in %s (printed once on stdout)", path)
    return token


def _announce(conf: cfg.ConfigOpts,
              applications: list[application.Application], host: str,
              port: int, token: str | None) -> None:
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    example = next((f"{url}/v1{app.example_path}" for app in applications
                    if app.example_path), f"{url}/v1")
    services = ", ".join(["api"] + [topic.name for topic in
                                    application.topics(applications)])
    if conf.api.auth_strategy == "noauth":
        how = ("noauth: send X-User-Id and X-Project-Id (X-Roles: admin for "
               f"/v1/services), e.g. curl -H 'X-User-Id: demo' "
               f"-H 'X-Project-Id: demo' {example}")
    else:
        how = (f"token: curl -H 'X-Auth-Token: TOKEN' {example} "
               "(make one with 'capstan-manage token create')")
    if token is not None:
        # NOTE(capstan): printed, never logged: a log file outlives the
        # terminal and tokens must not end up in logs.
        print(f"admin token (shown once, stored hashed in "
              f"{conf.api.token_file}): {token}", flush=True)
    LOG.info("all-in-one listening on %s (%s; state in %s); %s", url,
             services, conf.state_path, how)
    sys.stdout.flush()
