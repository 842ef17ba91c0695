"""eventlet.wsgi's HTTP/1.1 protocol, strict about framing, with JSON errors.

:class:`Server` (common/wsgi.py) serves every connection with
:class:`StrictHttpProtocol`. It changes two things in eventlet 0.41's
``HttpProtocol``:

* **Framing.** A request whose body length two HTTP parsers could read
  differently is refused before the app sees it, so a proxy in front of
  capstan and capstan always agree where one request ends (no request
  smuggling; RFC 9112 sections 3.2, 5, 6 and 7.1). eventlet alone takes the
  first of two Content-Length headers, accepts ``+5`` and ``0_5``, reads
  the body of ``Transfer-Encoding: gzip`` or ``chunked, chunked`` as the
  next request, silently drops every header after a malformed header line,
  reads a chunk-size line of any length into memory and skips whatever
  follows a chunk's data up to the next newline. Each of those is a 400
  here (501 for a transfer coding other than chunked), and the chunked body
  is read by :class:`ChunkedReader`.
* **Errors.** What eventlet or http.server reject themselves (request line
  too long, headers too large, bad request line or version) is answered
  with capstan's error document ``{"error": {"code", "title", "message",
  "request_id"}}`` and an ``X-Openstack-Request-Id``, like every other
  error of the API (DESIGN.md section 3), instead of an empty body, a
  text line or an HTML page, and the connection is closed.

NOTE(capstan): the hooks overridden here are http.server's ``send_error``
and ``parse_request`` and eventlet's ``get_environ`` and (private)
``_read_request_line``; setup.py pins eventlet below 0.42, and
tests/integration/test_bad_input.py exercises every branch over a socket.
"""
from __future__ import annotations

import http
import json
import logging
import re
import time
import uuid
from email.utils import formatdate
from typing import Any

import eventlet
from eventlet import wsgi as eventlet_wsgi

LOG = logging.getLogger(__name__)

SUPPORTED_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
# RFC 9110 5.1: a field name is a token.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9112 3.2 / RFC 3986 3.2.2: host [ ":" port ], empty allowed.
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)"
                   r"(:[0-9]{0,5})?$")
_DIGITS = re.compile(r"^[0-9]+$")
# More digits than this is more than an exabyte: larger than any body
# the API takes, and than eventlet's int() should parse.
MAX_LENGTH_DIGITS = 18
# RFC 9112 7.1: chunk-size [ chunk-ext ] CRLF. 16 hex digits fit 64 bits.
_CHUNK_SIZE = re.compile(rb"^([0-9A-Fa-f]{1,16})[ \t]*(;[^\r\n]*)?\r?\n$")
_LINE_END = (b"\r\n", b"\n")


def error_document(code: int, message: str, request_id: str) -> bytes:
    """The JSON error body, as capstan.api.wsgi_util.error_body builds it."""
    return json.dumps({"error": {"code": code, "title": _title(code),
                                 "message": message,
                                 "request_id": request_id}}).encode("utf-8")


def _title(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Error"


class StrictHttpProtocol(eventlet_wsgi.HttpProtocol):
    """One client connection; see the module docstring."""

    def handle_one_request(self) -> None:
        # NOTE(capstan): let the other connections run between two requests
        # of this one. A keep-alive client whose next request is already
        # buffered was otherwise served again and again without a switch
        # while others waited: a listing on SQLite (no I/O to yield
        # on) had p50 2 ms and p99 1.5 s under 10 busy connections.
        eventlet.sleep(0)
        super().handle_one_request()

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """Answer ``code`` with the JSON error document; close afterwards.

        Replaces http.server's HTML page (written without a status line
        when the request line was unreadable) and its stderr log line.
        """
        code = int(code)
        self.close_connection = True
        request_id = f"req-{uuid.uuid4()}"
        message = message or _title(code)
        LOG.info("%s answered %d before the app: %s (request %s)",
                 self.client_address[0], code, message, request_id)
        body = error_document(code, message, request_id)
        head = (f"HTTP/1.1 {code} {_title(code)}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"X-Openstack-Request-Id: {request_id}\r\n"
                f"Date: {formatdate(time.time(), usegmt=True)}\r\n"
                "Connection: close\r\n\r\n").encode("latin-1")
        if getattr(self, "command", None) == "HEAD":
            body = b""
        try:
            self.wfile.write(head + body)
            self.wfile.flush()
        except OSError:
            pass  # the client is gone; nobody to tell

    def _read_request_line(self) -> Any:
        # eventlet answers an over-long request line with an empty 414 of
        # its own; an empty line makes it close the connection instead.
        line = super()._read_request_line()
        limit = self.server.url_length_limit
        if len(line) >= limit:
            self.send_error(414, f"The request line is longer than "
                                 f"{limit - 1} bytes.")
            return b""
        return line

    def parse_request(self) -> bool:
        """Parse the request line and headers; False once answered."""
        try:
            if not super().parse_request():
                return False
        except eventlet_wsgi.HeaderLineTooLong:
            return self._refuse(431, f"A header line is longer than "
                                     f"{eventlet_wsgi.MAX_HEADER_LINE - 1} "
                                     "bytes.")
        except eventlet_wsgi.HeadersTooLarge:
            return self._refuse(431, f"The headers are larger than "
                                     f"{eventlet_wsgi.MAX_TOTAL_HEADER_SIZE}"
                                     " bytes.")
        problem = request_problem(self.request_version, self.headers)
        if problem is not None:
            return self._refuse(*problem)
        return True

    def get_environ(self) -> dict:
        env = super().get_environ()
        body = env["eventlet.input"]
        if body.chunked_input:
            body.rfile = ChunkedReader(body.rfile,
                                       eventlet_wsgi.MAX_HEADER_LINE)
        return env

    def _refuse(self, code: int, message: str) -> bool:
        self.send_error(code, message)
        return False


def request_problem(version: str, headers: Any) -> tuple[int, str] | None:
    """(status, message) if the parsed head of a request must be refused.

    ``headers`` is http.server's ``HTTPMessage``. Checks, in order: the
    version, header lines http.client could not parse (it drops them and
    every line after them), header names and values, Host, then the
    headers that frame the body.
    """
    if version not in SUPPORTED_VERSIONS:
        return 505, (f"HTTP version {version} is not supported; use "
                     f"{' or '.join(SUPPORTED_VERSIONS)}.")
    if headers.defects or headers.get_payload():
        return 400, "A header line is malformed."
    items = list(headers.raw_items())
    for name, value in items:
        if not _TOKEN.match(name):
            return 400, "A header name is malformed."
        if any(char in value for char in "\r\n\x00"):
            return 400, (f"Header {name} contains a line break (obsolete "
                         "line folding) or a NUL character.")
    return (_host_problem(version, items)
            or _framing_problem(version, items))


def _values(items: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in items if key.lower() == name]


def _host_problem(version: str,
                  items: list[tuple[str, str]]) -> tuple[int, str] | None:
    hosts = _values(items, "host")
    if len(hosts) > 1:
        return 400, "Send one Host header, not several."
    if not hosts and version == "HTTP/1.1":
        return 400, "An HTTP/1.1 request needs a Host header."
    if hosts and not _HOST.match(hosts[0].strip()):
        return 400, "The Host header is malformed."
    return None


def _framing_problem(version: str,
                     items: list[tuple[str, str]]) -> tuple[int, str] | None:
    lengths = _values(items, "content-length")
    encodings = _values(items, "transfer-encoding")
    if lengths and encodings:
        return 400, ("Content-Length and Transfer-Encoding are not allowed "
                     "together.")
    if len(lengths) > 1:
        return 400, "Send one Content-Length header, not several."
    if lengths and not _DIGITS.match(lengths[0].strip()):
        return 400, "Content-Length must be a non-negative decimal integer."
    if lengths and len(lengths[0].strip()) > MAX_LENGTH_DIGITS:
        return 413, "Content-Length is larger than this server accepts."
    if not encodings:
        return None
    if version == "HTTP/1.0":
        return 400, "Transfer-Encoding is not allowed in HTTP/1.0."
    codings = [coding.strip().lower()
               for value in encodings for coding in value.split(",")]
    if codings == ["chunked"]:
        return None
    if codings[-1] != "chunked" or codings.count("chunked") != 1:
        return 400, ("Transfer-Encoding must end with chunked, applied "
                     "once.")
    return 501, "Transfer-Encoding other than chunked is not supported."


class ChunkedReader:
    """The client's stream as eventlet's ``Input`` reads a chunked body.

    eventlet reads data with ``read(n)``/``readline(n)`` and every framing
    line with an unbounded ``readline()``: a chunk-size line, the line
    ending a chunk's data, then the trailer lines up to an empty line. This
    reader bounds each framing line to ``max_line`` bytes and checks it:
    a chunk size is 1-16 hex digits (eventlet's ``int(line, 16)`` would
    take ``-5``, ``+5``, ``0x5`` or ``5_0``), and the data of a chunk must
    end with CRLF; the trailer is bounded like the headers. The first
    violation raises eventlet's ChunkReadError, and so does every later
    read, so eventlet cannot resynchronise on the rest of the body and
    closes the connection after the response.
    """

    def __init__(self, rfile: Any, max_line: int) -> None:
        self._rfile = rfile
        self._max_line = max_line
        self._expect = "size"   # "size", "data end", "trailer", "done"
        self._trailer_bytes = 0
        self._error: str | None = None

    def read(self, size: int = -1) -> bytes:
        self._check()
        return self._rfile.read(size)

    def readline(self, size: int = -1) -> bytes:
        self._check()
        if size is not None and size >= 0:
            return self._rfile.readline(size)  # chunk data, bounded
        line = self._rfile.readline(self._max_line)
        if line and not line.endswith(b"\n"):
            self._fail(f"a chunked-body line is longer than "
                       f"{self._max_line - 1} bytes")
        if line:
            self._step(line)
        return line

    def _step(self, line: bytes) -> None:
        if self._expect == "size":
            match = _CHUNK_SIZE.match(line)
            if match is None:
                self._fail("a chunk size is not 1-16 hexadecimal digits")
            last = int(match.group(1), 16) == 0
            self._expect = "trailer" if last else "data end"
        elif self._expect == "data end":
            if line not in _LINE_END:
                self._fail("a chunk's data is longer than its size")
            self._expect = "size"
        elif self._expect == "trailer":
            self._trailer_bytes += len(line)
            if self._trailer_bytes > eventlet_wsgi.MAX_TOTAL_HEADER_SIZE:
                self._fail("the trailer is larger than "
                           f"{eventlet_wsgi.MAX_TOTAL_HEADER_SIZE} bytes")
            if line in _LINE_END:
                self._expect = "done"
        else:
            self._fail("data after the end of the chunked body")

    def _fail(self, reason: str) -> None:
        self._error = reason
        self._check()

    def _check(self) -> None:
        if self._error is not None:
            raise eventlet_wsgi.ChunkReadError(
                f"malformed chunked body: {self._error}")
