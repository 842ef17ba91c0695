"""common/wsgi_protocol.py: request framing checks and the chunked reader.

Over a real socket these are exercised by tests/integration/
test_bad_input.py; here the pure parts, on bytes.
"""
from __future__ import annotations

import http.client
import io
import json

import pytest
from eventlet import wsgi as eventlet_wsgi

from capstan.common import wsgi_protocol


def _headers(*lines: str) -> http.client.HTTPMessage:
    raw = "".join(line + "\r\n" for line in lines) + "\r\n"
    return http.client.parse_headers(io.BytesIO(raw.encode("latin-1")))


def _problem(*lines: str, version: str = "HTTP/1.1"):
    return wsgi_protocol.request_problem(version, _headers(*lines))


@pytest.mark.parametrize("lines", [
    ("Host: a",),
    ("Host: a:8780", "Content-Length: 12"),
    ("Host: [::1]:8780", "Transfer-Encoding: chunked"),
    ("Host: a", "Transfer-Encoding: Chunked"),
    ("Host: ",),
])
def test_wsgi_protocol_well_framed_request_passes(lines):
    assert _problem(*lines) is None


def test_wsgi_protocol_http10_without_host_passes():
    assert _problem("Content-Length: 0", version="HTTP/1.0") is None


@pytest.mark.parametrize("lines, version, status, words", [
    (("Host: a",), "HTTP/0.9", 505, "not supported"),
    (("Host: a",), "HTTP/1.2", 505, "not supported"),
    ((), "HTTP/1.1", 400, "needs a Host"),
    (("Host: a", "Host: b"), "HTTP/1.1", 400, "one Host"),
    (("Host: a b",), "HTTP/1.1", 400, "Host header is malformed"),
    (("Host: a", "NoColon"), "HTTP/1.1", 400, "header line is malformed"),
    (("Host: a", "Content-Length : 1"), "HTTP/1.1", 400, "malformed"),
    (("Host: a", "X-A: 1", " folded"), "HTTP/1.1", 400, "line break"),
    (("Host: a", "X-A: a\x00b"), "HTTP/1.1", 400, "NUL"),
    (("Host: a", "Content-Length: 1", "Content-Length: 2"), "HTTP/1.1",
     400, "one Content-Length"),
    (("Host: a", "Content-Length: +1"), "HTTP/1.1", 400, "decimal"),
    (("Host: a", "Content-Length: 1_0"), "HTTP/1.1", 400, "decimal"),
    (("Host: a", "Content-Length: -1"), "HTTP/1.1", 400, "decimal"),
    (("Host: a", "Content-Length: " + "9" * 19), "HTTP/1.1", 413,
     "larger"),
    (("Host: a", "Content-Length: 1", "Transfer-Encoding: chunked"),
     "HTTP/1.1", 400, "together"),
    (("Host: a", "Transfer-Encoding: chunked"), "HTTP/1.0", 400,
     "HTTP/1.0"),
    (("Host: a", "Transfer-Encoding: gzip"), "HTTP/1.1", 400, "end with"),
    (("Host: a", "Transfer-Encoding: chunked, gzip"), "HTTP/1.1", 400,
     "end with"),
    (("Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
     "HTTP/1.1", 400, "once"),
    (("Host: a", "Transfer-Encoding: gzip, chunked"), "HTTP/1.1", 501,
     "not supported"),
])
def test_wsgi_protocol_ambiguous_request_is_refused(lines, version, status,
                                                    words):
    code, message = _problem(*lines, version=version)
    assert code == status
    assert words in message


def test_wsgi_protocol_error_document_has_the_api_shape():
    body = json.loads(wsgi_protocol.error_document(414, "too long", "req-1"))
    assert body == {"error": {"code": 414, "title": "Request-URI Too Long",
                              "message": "too long", "request_id": "req-1"}}


def _read_chunked(raw: bytes, max_line: int = 64) -> bytes:
    reader = wsgi_protocol.ChunkedReader(io.BytesIO(raw), max_line)
    body = eventlet_wsgi.Input(reader, None, None, chunked_input=True)
    return body.read()


@pytest.mark.parametrize("raw, expected", [
    (b"2\r\n{}\r\n0\r\n\r\n", b"{}"),
    (b"2;name=value\r\n{}\r\n1\r\n \r\n0\r\n\r\n", b"{} "),
    (b"A\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n", b"0123456789"),
    (b"2\n{}\n0\n\n", b"{}"),
])
def test_wsgi_protocol_chunked_reader_reads_well_formed_bodies(raw,
                                                               expected):
    assert _read_chunked(raw) == expected


@pytest.mark.parametrize("raw, words", [
    (b"zz\r\n{}\r\n0\r\n\r\n", "chunk size"),
    (b"-2\r\n{}\r\n0\r\n\r\n", "chunk size"),
    (b"+2\r\n{}\r\n0\r\n\r\n", "chunk size"),
    (b"0x2\r\n{}\r\n0\r\n\r\n", "chunk size"),
    (b"1_0\r\n{}\r\n0\r\n\r\n", "chunk size"),
    (b"1" * 17 + b"\r\n", "chunk size"),
    (b"1" * 100 + b"\r\n", "longer than 63 bytes"),
    (b"2\r\n{}XX\r\n0\r\n\r\n", "longer than its size"),
    (b"2\r\n{}\r\n0\r\n" + b"X-T: 1\r\n" * 10_000, "trailer is larger"),
])
def test_wsgi_protocol_chunked_reader_refuses_malformed_bodies(raw, words):
    with pytest.raises(eventlet_wsgi.ChunkReadError, match=words):
        _read_chunked(raw)


def test_wsgi_protocol_chunked_reader_keeps_refusing_after_an_error():
    reader = wsgi_protocol.ChunkedReader(
        io.BytesIO(b"zz\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 64)
    body = eventlet_wsgi.Input(reader, None, None, chunked_input=True)
    with pytest.raises(eventlet_wsgi.ChunkReadError):
        body.read()
    # eventlet discards the rest of the body before the next request: it
    # must fail too, or "0\r\n\r\n" would end the body and "GET /" be read.
    with pytest.raises(eventlet_wsgi.ChunkReadError):
        body.discard()
