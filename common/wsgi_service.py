"""WSGIService: the API's HTTP server as a service a launcher runs.

It puts together what the API process needs around :class:`common.wsgi.Server`:

* a paste app, built by a :class:`Loader` from ``[api] paste_config``;
* the listening socket, bound at construction (so ``port`` is real even for
  port 0) or adopted from a parent that bound it before forking workers;
* the life cycle every service shares, from
  :class:`capstan.common.service.BaseService`: a service record (topic
  ``api``) with its heartbeat, a manager's hooks and periodic tasks, and
  the graceful stop, exactly as the RPC services have them.

Life cycle, as a launcher drives it::

    service = WSGIService("main", loader, conf, db=db, manager=manager)
    service.start()     # check schema, register, serve, heartbeat, periodics
    service.stop()      # drain requests, stop timers, mark the record stopped
    service.wait()      # returns once stopped
    service.start()     # serves again on the same socket and GreenPool
    service.close()     # release the socket for good

Nothing here opens a database engine or a broker connection; ``start()``
does, in the process that serves (after a fork).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable, Iterable, Protocol

import eventlet
from oslo_config import cfg
from paste.deploy import loadwsgi

from capstan.common import config
from capstan.common.db.api import Database
from capstan.common.service import BaseService
from capstan.common.wsgi import Server

LOG = logging.getLogger(__name__)

App = Callable[[dict, Callable], Iterable[bytes]]
# load(path, name) -> app: how a Loader turns a paste file into an app.
LoadFunc = Callable[[str, str], App]

# The etc/ of a source checkout (and of an editable install).
SOURCE_ETC = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "etc")


class AppLoader(Protocol):
    """What WSGIService needs from a loader."""

    def load_app(self, name: str) -> App: ...


def paste_config_candidates(conf: cfg.ConfigOpts, *,
                            source_etc: str = SOURCE_ETC,
                            prefix: str = sys.prefix) -> list[str]:
    """Where ``[api] paste_config`` may be, in the order it is looked for.

    An absolute path is taken as is. A relative one is looked up next to
    the first --config-file, then in the source tree's etc/, then where
    setup.py installs etc files (``<prefix>/etc/capstan``).
    """
    name = os.path.expanduser(conf.api.paste_config or "")
    if not name:
        raise config.ConfigError("[api] paste_config is empty")
    if os.path.isabs(name):
        return [name]
    dirs = []
    if conf.config_file:
        dirs.append(os.path.dirname(os.path.abspath(conf.config_file[0])))
    dirs += [source_etc, os.path.join(prefix, "etc", "capstan")]
    return [os.path.join(directory, name) for directory in dirs]


def find_paste_config(conf: cfg.ConfigOpts, **kwargs: str) -> str:
    """Return the path of the paste file; ConfigError if none exists."""
    candidates = paste_config_candidates(conf, **kwargs)
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise config.ConfigError(
        f"paste config {conf.api.paste_config} not found (looked for "
        f"{', '.join(candidates)})")


def _paste_loadapp(path: str, name: str) -> App:
    return loadwsgi.loadapp(f"config:{path}", name=name)


class Loader:
    """Build named apps from one paste deploy file.

    ``load(path, name)`` does the building; by default a plain
    ``paste.deploy.loadapp``. The API passes one that hands its
    dependencies to the factories (``api.factories.load_app``), which also
    turns a broken file into a one-line error.
    """

    def __init__(self, path: str, load: LoadFunc = _paste_loadapp) -> None:
        self.path = path
        self._load = load

    def load_app(self, name: str) -> App:
        return self._load(self.path, name)


class WSGIService(BaseService):
    """A paste app served over HTTP, with a service record and periodics."""

    def __init__(self, name: str, loader: AppLoader, conf: cfg.ConfigOpts,
                 *, db: Database, manager: Any = None,
                 socket: Any = None, binary: str = "api-server",
                 topic: str = "api") -> None:
        super().__init__(conf=conf, db=db, manager=manager, host=conf.host,
                         binary=binary, topic=topic,
                         report_interval=conf.report_interval,
                         periodic_interval=conf.periodic_interval,
                         periodic_fuzzy_delay=conf.periodic_fuzzy_delay)
        self.name = name
        self.app = loader.load_app(name)
        self.server = _make_server(name, self.app, conf.api, socket)

    def __repr__(self) -> str:
        return f"<WSGIService {self.name} on {self.host}:{self.port}>"

    @property
    def host(self) -> str:
        """The address listened on (the record's host is ``conf.host``)."""
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def pool(self) -> eventlet.GreenPool:
        return self.server.pool

    def close(self) -> None:
        """Stop at once if still serving, then release the socket."""
        self.stop(graceful=False)
        self.server.close()

    def _start_serving(self) -> None:
        self.server.start()

    def _serving_on(self) -> str:
        return f"serving {self.name} on {self.host}:{self.port}"

    def _stop_serving(self, graceful: bool, timeout: float) -> bool:
        # Idle keep-alive connections close at once; requests still running
        # after the timeout are cut.
        self.server.stop(graceful=graceful, timeout=timeout)
        # NOTE(capstan): Server.stop does not say whether it cut requests;
        # as before, a drain that timed out still counts as a clean stop.
        return True

    def _cut_stop_short(self) -> None:
        self.server.stop(graceful=False)

    def _reset_serving(self) -> None:
        """Restore the pool size."""
        self.server.reset()


def _make_server(name: str, app: App, api: Any, socket: Any) -> Server:
    return Server(name, app, host=api.bind_host, port=api.bind_port,
                  pool_size=api.wsgi_default_pool_size, backlog=api.backlog,
                  keep_alive=api.wsgi_keep_alive,
                  access_log=api.access_log,
                  # 0 means no timeout in the option, None in Server.
                  client_socket_timeout=api.client_socket_timeout or None,
                  max_header_line=api.max_header_line, socket=socket)
