"""capstan.common.wsgi.Server over a real socket on 127.0.0.1.

Time: nothing here asserts how long something took. Waits are bounded by
generous socket timeouts (a deadline, not a measurement), so a slow machine
makes the tests slower, never red.
"""
from __future__ import annotations

import json
import logging
import socket
import threading

import eventlet
import pytest
import requests
from eventlet import wsgi as eventlet_wsgi

from capstan.common import wsgi
from capstan.common.context import RequestContext

DEADLINE = 10  # seconds: generous bound for anything that should be quick
BODY = b"x" * 65536  # big enough to need several writes


def _hello_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


def _failing_app(environ, start_response):
    raise ValueError("secret detail")


class _GatedApp:
    """Hold every request until the test releases it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ, start_response):
        self.entered.set()
        self.release.wait()
        return _hello_app(environ, start_response)


@pytest.fixture
def make_server(monkeypatch):
    """Build servers that are closed at teardown, whatever the test did."""
    # Server sets eventlet's process-wide MAX_HEADER_LINE; give it back.
    monkeypatch.setattr(eventlet_wsgi, "MAX_HEADER_LINE",
                        eventlet_wsgi.MAX_HEADER_LINE)
    servers = []

    def factory(app=_hello_app, **kwargs) -> wsgi.Server:
        server = wsgi.Server("test", app, **kwargs)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.close()


@pytest.fixture
def gated_app():
    app = _GatedApp()
    yield app
    app.release.set()  # never leave a request parked


def _url(server: wsgi.Server, path: str = "/") -> str:
    return f"http://{server.host}:{server.port}{path}"


def _connect(server: wsgi.Server) -> socket.socket:
    return socket.create_connection((server.host, server.port),
                                    timeout=DEADLINE)


def _send_get(sock: socket.socket, headers: str = "") -> None:
    sock.sendall(f"GET / HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())


def _read_response(sock: socket.socket) -> tuple[str, bytes]:
    """Read one response off a keep-alive connection: (status line, body)."""
    reader = sock.makefile("rb")
    status = reader.readline().decode().strip()
    length = 0
    for line in iter(reader.readline, b"\r\n"):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = reader.read(length)
    reader.close()  # the socket stays open; makefile holds a reference only
    return status, body


def _closed_by_server(sock: socket.socket) -> bool:
    """Wait up to DEADLINE for the server to close the connection."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_server_port_zero_reports_usable_port(make_server):
    server = make_server(port=0)
    server.start()

    response = requests.get(_url(server), timeout=DEADLINE)

    assert server.port != 0
    assert response.status_code == 200
    assert response.content == BODY


def test_server_given_socket_serves_on_its_port(make_server):
    listener = wsgi.bind_socket("127.0.0.1", 0)
    server = make_server(socket=listener)
    server.start()

    response = requests.get(_url(server), timeout=DEADLINE)

    assert server.port == listener.getsockname()[1]
    assert response.status_code == 200


def test_bind_socket_port_in_use_raises():
    listener = wsgi.bind_socket("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            wsgi.bind_socket("127.0.0.1", listener.getsockname()[1])
    finally:
        listener.close()


@pytest.mark.timeout(60)
def test_server_restart_reuses_pool_and_port(make_server):
    server = make_server()
    pool_id, port = id(server.pool), server.port
    server.start()
    server.stop()

    server.start()
    response = requests.get(_url(server), timeout=DEADLINE)

    assert id(server.pool) == pool_id
    assert server.port == port
    assert response.status_code == 200


def test_server_reset_restores_pool_size(make_server):
    server = make_server(pool_size=7)
    server.pool.resize(0)

    server.reset()

    assert server.pool.size == 7
    assert server.pool.free() == 7


@pytest.mark.timeout(60)
def test_server_slow_client_cut_off_by_socket_timeout(make_server):
    server = make_server(client_socket_timeout=0.5)
    server.start()
    slow = _connect(server)
    slow.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # and never the end

    assert _closed_by_server(slow)
    assert requests.get(_url(server), timeout=DEADLINE).status_code == 200
    slow.close()


@pytest.mark.timeout(60)
def test_server_graceful_stop_completes_in_flight_request(make_server,
                                                          gated_app):
    server = make_server(gated_app)
    server.start()
    client = eventlet.spawn(requests.get, _url(server), timeout=DEADLINE)
    assert gated_app.entered.wait(DEADLINE)

    stopper = eventlet.spawn(server.stop, graceful=True, timeout=None)
    eventlet.sleep(0.2)  # let stop() begin; it must wait for the request
    still_stopping = not stopper.dead
    gated_app.release.set()
    response = client.wait()
    stopper.wait()

    assert still_stopping
    assert response.status_code == 200
    assert response.content == BODY


@pytest.mark.timeout(60)
def test_server_graceful_stop_closes_idle_keep_alive(make_server):
    server = make_server()  # client_socket_timeout 900: only stop closes it
    server.start()
    idle = _connect(server)
    _send_get(idle)
    status, _ = _read_response(idle)

    stopper = eventlet.spawn(server.stop, graceful=True, timeout=None)

    assert status.startswith("HTTP/1.1 200")
    assert _closed_by_server(idle)
    stopper.wait()
    idle.close()


@pytest.mark.timeout(60)
def test_server_graceful_stop_timeout_kills_requests(make_server, gated_app):
    server = make_server(gated_app)
    server.start()
    stuck = _connect(server)
    _send_get(stuck)
    assert gated_app.entered.wait(DEADLINE)

    server.stop(graceful=True, timeout=0.5)

    assert _closed_by_server(stuck)
    assert server.pool.running() == 0
    stuck.close()


@pytest.mark.timeout(60)
def test_server_hard_stop_kills_in_flight_request(make_server, gated_app):
    server = make_server(gated_app)
    server.start()
    busy = _connect(server)
    _send_get(busy)
    assert gated_app.entered.wait(DEADLINE)

    server.stop(graceful=False)

    assert _closed_by_server(busy)
    assert server.pool.running() == 0
    busy.close()


@pytest.mark.timeout(60)
def test_server_second_stop_not_graceful_ends_waiting_stop(make_server,
                                                           gated_app):
    server = make_server(gated_app)
    server.start()
    busy = _connect(server)
    _send_get(busy)
    assert gated_app.entered.wait(DEADLINE)
    graceful = eventlet.spawn(server.stop, graceful=True, timeout=None)
    eventlet.sleep(0)

    server.stop(graceful=False)

    graceful.wait()
    assert _closed_by_server(busy)
    busy.close()


@pytest.mark.timeout(60)
def test_server_header_line_over_limit_rejected_and_server_stays_up(
        make_server):
    server = make_server(max_header_line=16384)
    server.start()
    conn = _connect(server)

    _send_get(conn, "X-Big: " + "a" * 20000 + "\r\n")
    status, body = _read_response(conn)
    conn.close()
    # Over eventlet's own 8192 default: proves the option took effect.
    under = requests.get(_url(server), headers={"X-Big": "a" * 10000},
                         timeout=DEADLINE)

    # StrictHttpProtocol answers 431 with the JSON error document.
    assert status.startswith("HTTP/1.1 431")
    assert json.loads(body)["error"]["code"] == 431
    assert under.status_code == 200


def test_server_app_error_returns_500_without_traceback(make_server):
    server = make_server(_failing_app)
    server.start()

    response = requests.get(_url(server), timeout=DEADLINE)

    assert response.status_code == 500
    assert b"secret detail" not in response.content


def test_server_logs_to_python_logging_not_stderr(make_server, caplog,
                                                  capsys):
    server = make_server()
    server.start()

    with caplog.at_level(logging.INFO, logger=wsgi.LOG.name):
        requests.get(_url(server, "/hello"), timeout=DEADLINE)
        server.stop()

    assert any("GET /hello" in r.getMessage() for r in caplog.records)
    assert "GET /hello" not in capsys.readouterr().err


def _context_app(environ, start_response):
    # What the context filter does: the request's context becomes current.
    RequestContext(request_id=f"req-{environ['PATH_INFO'][1:]}",
                   overwrite=True)
    return _hello_app(environ, start_response)


def test_server_access_lines_keep_request_id_and_are_written_at_stop(
        make_server, caplog):
    server = make_server(_context_app)
    server.start()

    with caplog.at_level(logging.INFO, logger=wsgi.LOG.name):
        with requests.Session() as session:  # one keep-alive connection
            for number in range(20):
                session.get(_url(server, f"/{number}"), timeout=DEADLINE)
        server.stop()

    lines = {r.getMessage().split('"')[1]: r.context.request_id
             for r in caplog.records if '"GET /' in r.getMessage()}
    assert lines == {f"GET /{n} HTTP/1.1": f"req-{n}" for n in range(20)}


def test_server_close_refuses_connections(make_server):
    server = make_server()
    server.start()

    server.close()

    with pytest.raises(ConnectionRefusedError):
        _connect(server)
    with pytest.raises(RuntimeError):
        server.start()


@pytest.mark.timeout(60)
def test_server_wait_returns_after_stop(make_server):
    server = make_server()
    server.start()
    waiter = eventlet.spawn(server.wait)
    eventlet.sleep(0)
    waiting = not waiter.dead

    server.stop()
    waiter.wait()

    assert waiting


def test_server_without_access_log_still_logs_app_errors(make_server, caplog):
    server = make_server(_failing_app, access_log=False)
    server.start()

    with caplog.at_level(logging.INFO, logger=wsgi.LOG.name):
        response = requests.get(_url(server, "/hello"), timeout=DEADLINE)
        server.stop()

    assert response.status_code == 500
    errors = [r.getMessage() for r in caplog.records
              if r.levelno == logging.ERROR]
    assert any("Traceback" in message for message in errors), errors
    assert not any("GET /hello" in r.getMessage() for r in caplog.records)
