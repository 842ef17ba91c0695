"""The WSGI HTTP server: one eventlet.wsgi server greenthread over one socket.

Life cycle::

    server = Server("api", app, port=0)   # binds now; server.port is real
    server.start()                          # serve in a greenthread
    server.stop(graceful=True, timeout=60)  # stop accepting, drain requests
    server.start()                          # serve again, same socket/pool
    server.close()                          # release the socket for good

NOTE(capstan): stop() keeps the listening socket open so start() can serve
again on the same port (SIGHUP, or a forked child whose socket cannot be
re-bound). Until close(), the kernel still completes handshakes into the
backlog; those clients wait for the next start() or are reset by close().
A final shutdown is therefore stop() followed by close().

This module knows nothing of paste or service records: WSGIService wraps it.
Each connection speaks common/wsgi_protocol.py's StrictHttpProtocol.
"""
from __future__ import annotations

import logging
import socket as socket_module

import eventlet
import eventlet.greenio
import greenlet
from eventlet import wsgi as eventlet_wsgi

from capstan.common.wsgi_access_log import AccessLog
from capstan.common.wsgi_protocol import StrictHttpProtocol

LOG = logging.getLogger(__name__)


def bind_socket(host: str = "127.0.0.1", port: int = 0,
                backlog: int = 128) -> socket_module.socket:
    """Open a listening TCP socket on host:port (IPv4 or IPv6).

    Exposed so a parent process can bind once and hand the socket to
    forked children through Server(socket=...).
    """
    family, _, _, _, address = socket_module.getaddrinfo(
        host, port, socket_module.AF_UNSPEC, socket_module.SOCK_STREAM)[0]
    # NOTE(capstan): eventlet.listen turns SO_REUSEPORT on by default for a
    # fixed port, which would let a second server bind the same port and
    # silently take half the traffic. We want "address in use" instead.
    return eventlet.listen(address, family=family, backlog=backlog,
                           reuse_port=False)


def _green(sock: socket_module.socket) -> socket_module.socket:
    # A socket made without the monkey patch would block the whole hub in
    # accept(); wrap it so an adopted socket behaves like a bound one.
    if isinstance(sock, eventlet.greenio.GreenSocket):
        return sock
    return eventlet.greenio.GreenSocket(sock)


class _EventletLog:
    """eventlet.wsgi's logger protocol (info/debug/error/write) on logging.

    eventlet hands over messages already formatted, so they are passed as
    an argument, never as a format string (a URL may contain '%'). Its
    info lines, one per request (and a few at start and stop), go through
    ``access``, which writes them off the request path, or nowhere when
    the access log is off; its errors are logged either way.
    """

    def __init__(self, logger: logging.Logger, name: str,
                 access: AccessLog | None) -> None:
        self._logger = logger
        self._name = name
        self._access = access  # None: the access log is off

    def info(self, msg: str, *args, **kwargs) -> None:
        # eventlet logs an application's traceback at info; it is an error.
        if msg.startswith("Traceback"):
            self.error(msg, *args)
        elif self._access is not None:
            self._access.line(f"{self._name}: {self._render(msg, args)}")

    def debug(self, msg: str, *args, **kwargs) -> None:
        self._logger.debug("%s: %s", self._name, self._render(msg, args))

    def error(self, msg: str, *args, **kwargs) -> None:
        self._logger.error("%s: %s", self._name, self._render(msg, args))

    def write(self, msg: str, *args) -> None:
        self.info(msg.rstrip("\n"), *args)

    @staticmethod
    def _render(msg: str, args: tuple) -> str:
        return msg % args if args else msg


class Server:
    """Serve a WSGI app over HTTP with eventlet.wsgi.

    Every client connection runs in a greenthread of one GreenPool of
    pool_size, made here and reused across stop()/start(). The listening
    socket is bound here (or adopted from the caller, who then hands over
    its ownership) so that .host and .port are real right away.
    """

    def __init__(self, name: str, app, host: str = "127.0.0.1",
                 port: int = 0, *, pool_size: int = 100, backlog: int = 128,
                 keep_alive: bool = True,
                 client_socket_timeout: float | None = 900,
                 access_log: bool = True,
                 max_header_line: int = 16384,
                 socket: socket_module.socket | None = None) -> None:
        self.name = name
        self._app = app
        self._pool_size = pool_size
        self._pool = eventlet.GreenPool(pool_size)
        self._keep_alive = keep_alive
        self._client_socket_timeout = client_socket_timeout
        self._access_log = access_log
        self._max_header_line = max_header_line
        self._socket = _green(socket) if socket is not None else bind_socket(
            host, port, backlog)
        self._host, self._port = self._socket.getsockname()[:2]
        self._access = AccessLog(LOG)
        self._log = _EventletLog(LOG, name,
                                 self._access if access_log else None)
        self._server = None         # the eventlet.wsgi.server greenthread
        self._access_writer = None  # the greenthread of AccessLog.run
        self._server_socket = None  # its dup of self._socket
        self._stopping = False
        self._closed = False

    @property
    def pool(self) -> eventlet.GreenPool:
        return self._pool

    @property
    def socket(self) -> socket_module.socket:
        return self._socket

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        """Serve in a new greenthread; does nothing if already serving."""
        if self._closed:
            raise RuntimeError(f"WSGI server {self.name} is closed")
        if self._server is not None and not self._server.dead:
            return
        self._set_max_header_line()
        # eventlet.wsgi.server closes the socket it is given when it exits;
        # a dup keeps ours listening for the next start().
        self._server_socket = self._socket.dup()
        self._stopping = False
        if self._access_writer is None:
            self._access.reopen()
            self._access_writer = eventlet.spawn(self._access.run)
        # NOTE(capstan): spawned outside self._pool, because on exit the
        # server calls pool.waitall(), which never returns from inside it.
        self._server = eventlet.spawn(
            eventlet_wsgi.server, self._server_socket, self._app,
            log=self._log,
            # NOTE(capstan): always on: eventlet's log_output=False drops
            # its errors too (a traceback past faultwrap, a bad chunked
            # body). Without the access log, _EventletLog drops the
            # request lines instead.
            log_output=True,
            # Strict request framing and JSON protocol errors.
            protocol=StrictHttpProtocol,
            custom_pool=self._pool,
            keepalive=self._keep_alive,
            socket_timeout=self._client_socket_timeout,
            debug=False)
        LOG.info("%s: serving on %s:%s", self.name, self._host, self._port)

    def stop(self, graceful: bool = True,
             timeout: float | None = None) -> None:
        """Stop accepting connections and end the ones open.

        graceful: idle keep-alive connections are closed at once, requests
        in flight finish (then their connection closes); after timeout
        seconds (None: no limit) the rest are killed. Not graceful: every
        connection is killed now. May be called again while a graceful stop
        waits, e.g. to escalate to graceful=False on a second signal.
        """
        server = self._server
        if server is None or server.dead:
            self._stop_access_writer()
            return
        if not self._stopping:
            self._stopping = True
            LOG.info("%s: stopping (graceful=%s)", self.name, graceful)
            # The kill lands in eventlet's accept loop, whose cleanup marks
            # every connection to close after its current request, shuts
            # down the idle ones and then waits on the pool.
            server.kill()
        if not graceful:
            self._kill_requests()
        if not self._wait_for(server, timeout):
            LOG.warning("%s: %d requests still running after %ss; killing "
                        "them", self.name, self._pool.running(), timeout)
            self._kill_requests()
            self._wait_for(server, None)
        self._close_server_socket()
        self._stop_access_writer()
        LOG.info("%s: stopped", self.name)

    def wait(self) -> None:
        """Block until the server greenthread ends (after stop())."""
        if self._server is not None:
            self._wait_for(self._server, None)

    def reset(self) -> None:
        """Restore the pool to its configured size (on SIGHUP)."""
        self._pool.resize(self._pool_size)

    def close(self) -> None:
        """Stop at once if serving, then close the listening socket."""
        if self._closed:
            return
        self.stop(graceful=False)
        self._closed = True
        self._socket.close()

    def _set_max_header_line(self) -> None:
        # NOTE(capstan): eventlet reads MAX_HEADER_LINE from its module at
        # each request: it is process-wide, not per server. The last Server
        # started in a process wins; servers in one process should agree.
        if eventlet_wsgi.MAX_HEADER_LINE != self._max_header_line:
            LOG.debug("%s: eventlet.wsgi.MAX_HEADER_LINE %d -> %d", self.name,
                      eventlet_wsgi.MAX_HEADER_LINE, self._max_header_line)
            eventlet_wsgi.MAX_HEADER_LINE = self._max_header_line

    def _kill_requests(self) -> None:
        # Killing a connection's greenthread runs eventlet's link, which
        # closes the client socket.
        for greenthread in list(self._pool.coroutines_running):
            greenthread.kill()

    def _stop_access_writer(self) -> None:
        # After the last request: the writer writes what is queued, then ends.
        if self._access_writer is not None:
            self._access.close()
            self._wait_for(self._access_writer, None)
            self._access_writer = None
        self._access.flush()  # what was logged after the writer ended

    def _close_server_socket(self) -> None:
        # eventlet closes it on a normal exit; not if killed before running.
        if self._server_socket is not None:
            self._server_socket.close()
            self._server_socket = None

    @staticmethod
    def _wait_for(greenthread, timeout: float | None) -> bool:
        """Wait for a greenthread to end; False if timeout expired."""
        timer = eventlet.Timeout(timeout)
        try:
            greenthread.wait()
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            return False
        except greenlet.GreenletExit:
            pass  # how a killed greenthread reports its end
        finally:
            timer.cancel()
        return True
