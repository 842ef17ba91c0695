"""HTTP over a raw socket, so a test controls every byte it sends.

:func:`request` builds the bytes of a request (with ``Host`` and
``Connection: close`` unless told otherwise); :func:`exchange` sends bytes
on a fresh connection and reads until the server closes it, then
:class:`Reply` splits what came back into the first response and anything
after it (which must be nothing: a second response would mean the server
read part of a body as another request).
"""
from __future__ import annotations

import dataclasses
import json
import socket
from typing import Any, Iterable

# Generous: a loaded CI machine may be slow. Never asserted as a duration.
TIMEOUT = 60.0


@dataclasses.dataclass
class Reply:
    """What the server sent back on one connection."""

    raw: bytes
    status: int | None = None
    reason: str = ""
    version: str = ""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""
    rest: bytes = b""       # bytes after the first response
    eof: bool = False       # the server closed the connection (FIN)
    reset: bool = False     # ... or reset it

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        return (f"<Reply {self.status} eof={self.eof} reset={self.reset} "
                f"{self.raw[:600]!r}>")


def request(method: str | bytes, target: str | bytes,
            headers: Iterable[str | bytes] = (), body: bytes = b"", *,
            version: str = "HTTP/1.1", host: bool = True,
            close: bool = True) -> bytes:
    """The bytes of one request; ``headers`` are whole header lines."""
    line = b" ".join(_bytes(part) for part in (method, target, version))
    lines = [line]
    if host:
        lines.append(b"Host: capstan.test")
    if close:
        lines.append(b"Connection: close")
    lines.extend(_bytes(header) for header in headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(host: str, port: int, data: bytes,
             timeout: float = TIMEOUT) -> Reply:
    """Send ``data`` on a new connection; read until the server closes."""
    chunks: list[bytes] = []
    eof = reset = False
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early; its answer may still be readable
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                reset = True
                break
            if not chunk:
                eof = True
                break
            chunks.append(chunk)
    return parse(b"".join(chunks), eof=eof, reset=reset)


def parse(raw: bytes, *, eof: bool = False, reset: bool = False) -> Reply:
    """Split ``raw`` into its first response and the rest."""
    reply = Reply(raw=raw, eof=eof, reset=reset)
    head, sep, after = raw.partition(b"\r\n\r\n")
    if not sep:
        return reply
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    reply.version, _, status = status_line.partition(" ")
    code, _, reply.reason = status.partition(" ")
    reply.status = int(code)
    for line in header_lines:
        name, _, value = line.partition(":")
        reply.headers[name.strip().lower()] = value.strip()
    length = int(reply.headers.get("content-length", len(after)))
    reply.body, reply.rest = after[:length], after[length:]
    return reply


def chunked(*parts: bytes) -> bytes:
    """A well-formed chunked body made of ``parts``."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part)
                    for part in parts) + b"0\r\n\r\n"


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")
