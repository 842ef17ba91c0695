"""Bad input over a real socket: the API refuses it in JSON and stays up.

How to run::

    CAPSTAN_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1/test \\
    CAPSTAN_TEST_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/ \\
        /work/venv/bin/python -m pytest tests/integration/test_bad_input.py

One real ``api-server`` (token auth, an admin token) on a fresh PostgreSQL
database and RabbitMQ vhost serves the whole module (tests/integration/
live_api.py). Each case sends exact bytes on a new connection
(tests/integration/rawhttp.py) and checks:

* the status, and the JSON error document ``{"error": {"code", "title",
  "message", "request_id"}}`` whose request id is the one in
  ``X-Openstack-Request-Id`` -- for what eventlet.wsgi rejects itself too
  (request line, headers, framing): common/wsgi_protocol.py answers those;
* that the server closed the connection cleanly after exactly one response
  (no reset, no second response: nothing in a body was read as a request);
* that the server is still up: ``GET /`` answers 200 on a fresh
  connection, the process runs, and its log holds no unexpected error.

The cases are the table :data:`CASES`, plus a few tests below it for
answers that are not errors (HTTP/1.0 without Host, an absolute URI, the
``_method`` override, keep-alive). docs/reliability.md ("Bad input")
reports the count.
"""
from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from tests.integration import rawhttp
from tests.integration.live_api import LiveAPI, live_api

pytestmark = pytest.mark.timeout(300)

TOKEN = b"@TOKEN@"
VOLUME = b"@VOLUME@"
SERVICE = b"@SERVICE@"
AUTH = b"X-Auth-Token: " + TOKEN
JSON_TYPE = "Content-Type: application/json"
UNKNOWN_UUID = "6f1e4d6a-0000-4000-8000-000000000000"
# What "unexpected" looks like in the api-server log (api/middleware/
# fault.py and common/wsgi.py's logger of eventlet's own tracebacks).
UNEXPECTED = ("failed unexpectedly", "Traceback")


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad request and the error it must get."""

    name: str
    data: bytes
    status: int
    message: str = ""   # a part of error.message


def _send(method: str, path: str | bytes, body: bytes = b"", *,
          headers=(), content_type: str | None = JSON_TYPE,
          length: bool = True, **kwargs) -> bytes:
    lines = [AUTH]
    if content_type:
        lines.append(content_type)
    if length and (body or method in ("POST", "PUT")):
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(headers)
    return rawhttp.request(method, path, lines, body, **kwargs)


def _post(body: bytes, path: str | bytes = "/v1/volumes", **kwargs) -> bytes:
    return _send("POST", path, body, **kwargs)


def _volume(fields: str) -> bytes:
    return b'{"volume": {' + fields.encode() + b"}}"


def _get(path: str | bytes, *headers: str | bytes, **kwargs) -> bytes:
    return rawhttp.request("GET", path, [AUTH, *headers], **kwargs)


def _chunked_post(raw_body: bytes, *headers: str) -> bytes:
    return rawhttp.request("POST", "/v1/volumes",
                           [AUTH, JSON_TYPE, "Transfer-Encoding: chunked",
                            *headers], raw_body)


ACTION = b"/v1/volumes/" + VOLUME + b"/action"
BIG_NAME = b"x" * 200_000  # larger than sizelimit's 112 KiB

JSON_CASES = [
    Case("malformed JSON", _post(b'{"volume": {"size": 1'), 400,
         "not valid JSON"),
    Case("trailing garbage after the object",
         _post(_volume('"size": 1') + b" x"), 400, "not valid JSON"),
    Case("100000 levels of [", _post(b"[" * 100_000), 400,
         "not valid JSON"),
    Case("50000 levels of [], closed", _post(b"[" * 50_000 + b"]" * 50_000),
         400, "not valid JSON"),
    Case("20000 levels of {", _post(b'{"a":' * 20_000), 400,
         "not valid JSON"),
    Case("oversized JSON with Content-Length",
         _post(_volume('"size": 1, "name": "') + BIG_NAME + b'"}}'), 413),
    Case("oversized JSON chunked, no Content-Length",
         _chunked_post(rawhttp.chunked(_volume('"size": 1, "name": "'),
                                       BIG_NAME, b'"}}')), 413),
    Case("Content-Length of a terabyte, no body",
         _send("POST", "/v1/volumes",
               headers=["Content-Length: 1000000000000"], length=False),
         413),
    Case("empty body on POST", _post(b""), 400, "needs a JSON body"),
    Case("POST without Content-Length: the body is not read",
         _post(_volume('"size": 1'), length=False), 400, "needs a JSON body"),
    Case("body is an array", _post(b"[]"), 400, "must be a JSON object"),
    Case("body is null", _post(b"null"), 400, "must be a JSON object"),
    Case("body is a string", _post(b'"volume"'), 400,
         "must be a JSON object"),
    Case("Content-Type text/plain", _post(
        _volume('"size": 1'), content_type="Content-Type: text/plain"), 415,
        "application/json"),
    Case("no Content-Type", _post(_volume('"size": 1'), content_type=None),
         415, "application/json"),
    Case("Content-Type JSON in latin-1",
         _post(_volume('"size": 1'), content_type="Content-Type: "
               "application/json; charset=latin-1"), 415),
    Case("form-encoded body", _post(
        b"size=1", content_type="Content-Type: "
        "application/x-www-form-urlencoded"), 415),
    Case("invalid UTF-8", _post(b'{"volume": {"size": 1, "name": "\xff"}}'),
         400, "UTF-8"),
    Case("UTF-16 with a BOM", _post(_volume('"size": 1').decode()
                                    .encode("utf-16")), 400, "UTF-8"),
    Case("raw NUL byte in a string",
         _post(b'{"volume": {"size": 1, "name": "a\x00b"}}'), 400,
         "not valid JSON"),
    Case("escaped NUL in a string", _post(_volume(
        '"size": 1, "name": "a\\u0000b"')), 400, "NUL"),
    Case("lone surrogate", _post(_volume('"size": 1, "name": "\\ud800"')),
         400, "surrogate"),
    Case("NaN", _post(_volume('"size": NaN')), 400, "NaN"),
    Case("Infinity", _post(_volume('"size": Infinity')), 400, "Infinity"),
    Case("duplicate key", _post(_volume('"size": 1, "size": 2')), 400,
         "repeated"),
    Case("duplicate top-level key", _post(
        b'{"volume": {"size": 1}, "volume": {"size": 2}}'), 400,
        "repeated"),
    Case("size as a string", _post(_volume('"size": "1"')), 400,
         "volume.size: Input should be a valid integer"),
    Case("size 1.5", _post(_volume('"size": 1.5')), 400,
         "volume.size: Input should be a valid integer"),
    Case("size 1e5", _post(_volume('"size": 1e5')), 400,
         "volume.size: Input should be less than or equal to 16384"),
    Case("size 10**100", _post(_volume(f'"size": {10 ** 100}')), 400,
         "volume.size: Input should be less than or equal to 16384"),
    Case("size of 5000 digits", _post(_volume('"size": ' + "9" * 5000)),
         400, "not valid JSON"),
    Case("size true", _post(_volume('"size": true')), 400,
         "volume.size: Input should be a valid integer"),
    Case("size null", _post(_volume('"size": null')), 400,
         "volume.size: Input should be a valid integer"),
    Case("size 0", _post(_volume('"size": 0')), 400,
         "volume.size: Input should be greater than or equal to 1"),
    Case("size -1", _post(_volume('"size": -1')), 400,
         "volume.size: Input should be greater than or equal to 1"),
    Case("size 16385", _post(_volume('"size": 16385')), 400,
         "volume.size: Input should be less than or equal to 16384"),
    Case("no size", _post(_volume('"name": "a"')), 400, "required"),
    Case("unknown field", _post(_volume('"size": 1, "colour": "red"')), 400,
         "Unknown field"),
    Case("unknown top-level key", _post(
        b'{"volume": {"size": 1}, "extra": 1}'), 400, "got keys"),
    Case("name of 256 characters", _post(_volume(
        '"size": 1, "name": "' + "n" * 256 + '"')), 400, "characters"),
    Case("name as a number", _post(_volume('"size": 1, "name": 5')), 400,
         "volume.name: Input should be a valid string"),
    Case("metadata value not a string", _post(_volume(
        '"size": 1, "metadata": {"a": 1}')), 400,
        "volume.metadata.a: Input should be a valid string"),
    Case("65 metadata items", _post(_volume(
        '"size": 1, "metadata": ' + json.dumps(
            {f"k{i}": "v" for i in range(65)}))), 400, "at most 64"),
    Case("scheduler hint not a UUID", _post(_volume(
        '"size": 1, "scheduler_hints": {"same_host": ["../x"]}')), 400,
        "same_host[0]: Input should be an id (a UUID)"),
    Case("unknown scheduler hint", _post(_volume(
        '"size": 1, "scheduler_hints": {"near": []}')), 400,
        "Unknown field"),
    Case("empty availability zone", _post(_volume(
        '"size": 1, "availability_zone": ""')), 400, "at least 1 character"),
    Case("extend new_size as a string",
         _post(b'{"extend": {"new_size": "2"}}', ACTION), 400,
         "extend.new_size: Input should be a valid integer"),
    Case("extend new_size 10**100",
         _post(b'{"extend": {"new_size": ' + str(10 ** 100).encode() + b"}}",
               ACTION), 400, "extend.new_size: Input should be less than"),
    Case("unknown action", _post(b'{"shrink": {"new_size": 1}}', ACTION),
         400, "one of extend; got keys ['shrink']"),
    Case("two actions", _post(
        b'{"extend": {"new_size": 2}, "shrink": {}}', ACTION), 400,
        "exactly one action"),
    Case("extend arguments not an object",
         _post(b'{"extend": 2}', ACTION), 400,
         "extend: Input should be a JSON object"),
    Case("service forced_down \"yes\"", _send(
        "PUT", b"/v1/services/" + SERVICE, b'{"forced_down": "yes"}'), 400,
        "true or false"),
    Case("service status paused", _send(
        "PUT", b"/v1/services/" + SERVICE, b'{"status": "paused"}'), 400,
        "enabled"),
]

PATH_CASES = [
    Case("volume id not a UUID", _get("/v1/volumes/not-a-uuid"), 404,
         "could not be found"),
    Case("volume id without dashes",
         _get("/v1/volumes/" + uuid.uuid4().hex), 404, "could not be found"),
    Case("unknown volume id", _get("/v1/volumes/" + UNKNOWN_UUID), 404,
         "could not be found"),
    Case("%00 after a volume id",
         _get(b"/v1/volumes/" + VOLUME + b"%00"), 404, "could not be found"),
    Case("%00 as the volume id", _get("/v1/volumes/%00"), 404,
         "could not be found"),
    Case("raw NUL byte in the path", _get(b"/v1/volumes/ab\x00c"), 404,
         "could not be found"),
    Case("%2F in a volume id", _get("/v1/volumes/abc%2F..%2Fservices"), 404,
         "No resource"),
    Case(".. in the path", _get("/v1/volumes/../services"), 404,
         "No resource"),
    Case("%2e%2e in the path", _get("/v1/volumes/%2e%2e/services"), 404,
         "No resource"),
    Case("invalid UTF-8 in the path", _get("/v1/volumes/%FF%FE"), 404,
         "could not be found"),
    Case("unknown version", _get("/v2/volumes"), 404, "No resource"),
    Case("unknown resource", _get("/v1/nothing"), 404, "No resource"),
    Case("service id not a number", _send("PUT", "/v1/services/abc",
                                          b'{"status": "enabled"}'), 404),
    Case("service id of 20 digits",
         _send("PUT", "/v1/services/99999999999999999999",
               b'{"status": "enabled"}'), 404, "could not be found"),
    Case("service id -1", _send("DELETE", "/v1/services/-1",
                                content_type=None), 404),
    Case("limit=0", _get("/v1/volumes?limit=0"), 400, "limit"),
    Case("limit=abc", _get("/v1/volumes?limit=abc"), 400, "limit"),
    Case("limit=1001", _get("/v1/volumes?limit=1001"), 400, "limit"),
    Case("limit=-1", _get("/v1/volumes?limit=-1"), 400, "limit"),
    Case("limit=superscript two", _get("/v1/volumes?limit=%C2%B2"), 400,
         "limit"),
    Case("sort_key=password", _get("/v1/volumes?sort_key=password"), 400,
         "sort_key"),
    Case("sort_dir=up", _get("/v1/volumes?sort_dir=up"), 400, "sort_dir"),
    Case("status filter unknown", _get("/v1/volumes?status=bogus"), 400,
         "status"),
    Case("marker not a UUID", _get("/v1/volumes?marker=x"), 400, "marker"),
    Case("marker unknown", _get("/v1/volumes?marker=" + UNKNOWN_UUID), 400,
         "marker"),
    Case("repeated query parameter", _get("/v1/volumes?limit=1&limit=2"),
         400, "repeated"),
    Case("unknown query parameter", _get("/v1/volumes?foo=1"), 400,
         "Unknown query parameter"),
    Case("invalid UTF-8 in the query", _get("/v1/volumes?name=%FF"), 400,
         "UTF-8"),
    Case("NUL in the query", _get("/v1/volumes?name=a%00b"), 400, "NUL"),
]

METHOD_CASES = [
    Case("PATCH", _send("PATCH", "/v1/volumes", b"{}"), 405, "use GET, POST"),
    Case("TRACE", _get("/v1/volumes").replace(b"GET", b"TRACE", 1), 405,
         "use GET, POST"),
    Case("OPTIONS on /", rawhttp.request("OPTIONS", "/"), 405, "use GET"),
    Case("lowercase get", _get("/v1/volumes").replace(b"GET", b"get", 1),
         405, "use GET, POST"),
    Case("unknown method FOO",
         _get(b"/v1/volumes/" + VOLUME).replace(b"GET", b"FOO", 1), 405,
         "use DELETE, GET"),
    Case("PUT on the collection", _send("PUT", "/v1/volumes", b"{}"), 405),
    Case("POST on a volume", _post(b"{}", b"/v1/volumes/" + VOLUME), 405,
         "use DELETE, GET"),
    Case("?_method=DELETE on POST to a volume",
         _post(b"{}", b"/v1/volumes/" + VOLUME + b"?_method=DELETE"), 405,
         "use DELETE, GET"),
    Case("X-HTTP-Method-Override: DELETE on POST to a volume",
         _post(b"{}", b"/v1/volumes/" + VOLUME,
               headers=["X-HTTP-Method-Override: DELETE"]), 405,
         "use DELETE, GET"),
    Case("no token", rawhttp.request("GET", "/v1/volumes"), 401,
         "X-Auth-Token"),
    Case("wrong token", rawhttp.request(
        "GET", "/v1/volumes", ["X-Auth-Token: " + "A" * 43]), 401,
        "not valid"),
    Case("empty token", rawhttp.request(
        "GET", "/v1/volumes", ["X-Auth-Token: "]), 401, "X-Auth-Token"),
]

# Refused before the app (common/wsgi_protocol.py and eventlet.wsgi).
PROTOCOL_CASES = [
    Case("request line of 10000 bytes", _get("/v1/" + "a" * 10_000), 414,
         "request line"),
    Case("header line of 20000 bytes",
         _get("/v1/volumes", "X-Big: " + "a" * 20_000), 431, "header line"),
    Case("150 headers", _get("/v1/volumes", *(
        f"X-H{i}: {i}" for i in range(150))), 431, "headers"),
    Case("70 KB of headers", _get("/v1/volumes", *(
        f"X-H{i}: {'h' * 1000}" for i in range(70))), 431, "headers"),
    Case("negative Content-Length", _post(
        b"{}", length=False, headers=["Content-Length: -1"]), 400,
        "Content-Length"),
    Case("non-numeric Content-Length", _post(
        b"{}", length=False, headers=["Content-Length: two"]), 400,
        "Content-Length"),
    Case("Content-Length +2", _post(
        b"{}", length=False, headers=["Content-Length: +2"]), 400,
        "Content-Length"),
    Case("Content-Length 0_2", _post(
        b"{}", length=False, headers=["Content-Length: 0_2"]), 400,
        "Content-Length"),
    Case("two Content-Length headers", _post(
        b"{}", length=False,
        headers=["Content-Length: 2", "Content-Length: 40"]), 400,
        "Content-Length"),
    Case("Content-Length of 40 digits", _post(
        b"{}", length=False, headers=["Content-Length: " + "9" * 40]), 413,
        "Content-Length"),
    Case("Content-Length with Transfer-Encoding (smuggling)", _post(
        rawhttp.chunked(b"{}") + b"GET /v1/volumes HTTP/1.1\r\n\r\n",
        headers=["Transfer-Encoding: chunked"]), 400, "together"),
    Case("Transfer-Encoding gzip", _post(
        b"{}", length=False, headers=["Transfer-Encoding: gzip"]), 400,
        "chunked"),
    Case("Transfer-Encoding gzip, chunked", _chunked_post(
        rawhttp.chunked(b"{}")).replace(b"chunked", b"gzip, chunked", 1),
        501, "not supported"),
    Case("Transfer-Encoding chunked twice", _chunked_post(
        rawhttp.chunked(b"{}"), "Transfer-Encoding: chunked"), 400,
        "chunked"),
    Case("Transfer-Encoding in HTTP/1.0", rawhttp.request(
        "POST", "/v1/volumes", [AUTH, JSON_TYPE,
                                "Transfer-Encoding: chunked"],
        rawhttp.chunked(b"{}"), version="HTTP/1.0"), 400, "HTTP/1.0"),
    Case("chunk size not hex", _chunked_post(b"zz\r\n{}\r\n0\r\n\r\n"),
         400, "chunk size"),
    Case("chunk size line of 100000 bytes",
         _chunked_post(b"1" * 100_000 + b"\r\n{}\r\n0\r\n\r\n"), 400,
         "longer than"),
    Case("negative chunk size", _chunked_post(b"-2\r\n{}\r\n0\r\n\r\n"),
         400, "chunk size"),
    Case("chunk size 0x2", _chunked_post(b"0x2\r\n{}\r\n0\r\n\r\n"), 400,
         "chunk size"),
    Case("chunk size of 17 hex digits",
         _chunked_post(b"1" * 17 + b"\r\n{}\r\n0\r\n\r\n"), 400,
         "chunk size"),
    Case("chunk data longer than its size",
         _chunked_post(b"2\r\n{}XX\r\n0\r\n\r\n"), 400, "longer than"),
    Case("chunk of 2**64-1 bytes, 200 KB sent",
         _chunked_post(b"ffffffffffffffff\r\n" + b"{" * 200_000), 413),
    Case("HTTP/1.1 without Host", _get("/", host=False), 400, "Host"),
    Case("two Host headers", _get("/", "Host: other.test"), 400, "Host"),
    Case("malformed Host", rawhttp.request(
        "GET", "/", ["Host: a b/c"], host=False), 400, "Host"),
    Case("header line without a colon", _get("/v1/volumes", "NoColonHere"),
         400, "malformed"),
    Case("space before the colon", _post(
        b"{}", length=False, headers=["Content-Length : 2"]), 400,
        "malformed"),
    Case("obsolete line folding", _get("/v1/volumes", "X-A: 1", "  folded"),
         400, "line break"),
    Case("NUL in a header value", _get("/v1/volumes", b"X-A: a\x00b"), 400,
         "NUL"),
    Case("HTTP/0.9 request", b"GET /\r\n\r\n", 505, "HTTP/0.9"),
    Case("HTTP/2.0 request line", _get("/", version="HTTP/2.0"), 505),
    Case("HTTP/1.2 request line", _get("/", version="HTTP/1.2"), 505,
         "HTTP/1.2"),
    Case("bad version HTTP/1.1x", _get("/", version="HTTP/1.1x"), 400,
         "version"),
    Case("garbage request line", b"HELLO\r\n\r\n", 400, "syntax"),
]

CASES = JSON_CASES + PATH_CASES + METHOD_CASES + PROTOCOL_CASES


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_api(tmp_path_factory.mktemp("bad-input")) as api:
        api.token = api.create_token("admin", "admin", "admin")
        api.volume_id, api.service_id = "", 0
        api.start()
        api.volume_id = _create_volume(api)
        api.service_id = _api_service_id(api)
        yield api


def _fill(api: LiveAPI, data: bytes) -> bytes:
    return (data.replace(TOKEN, api.token.encode())
            .replace(VOLUME, api.volume_id.encode())
            .replace(SERVICE, str(api.service_id).encode()))


def _exchange(api: LiveAPI, data: bytes) -> rawhttp.Reply:
    return rawhttp.exchange(api.host, api.port, _fill(api, data))


def _create_volume(api: LiveAPI) -> str:
    reply = _exchange(api, _post(_volume('"size": 1, "name": "target"')))
    assert reply.status == 202, reply
    return reply.json()["volume"]["id"]


def _api_service_id(api: LiveAPI) -> int:
    reply = _exchange(api, _get("/v1/services?topic=api"))
    assert reply.status == 200, reply
    return reply.json()["services"][0]["id"]


def assert_error(reply: rawhttp.Reply, status: int, message: str = "") -> dict:
    """One JSON error response of ``status``; return its error object."""
    assert reply.status == status, reply
    assert reply.headers.get("content-type", "").startswith(
        "application/json"), reply
    request_id = reply.headers["x-openstack-request-id"]
    assert request_id.startswith("req-"), reply
    error = reply.json()["error"]
    assert error["code"] == status
    assert error["request_id"] == request_id
    assert error["title"] and error["message"]
    assert message in error["message"], error
    assert b"Traceback" not in reply.raw
    return error


def assert_closed_after_one_response(reply: rawhttp.Reply) -> None:
    assert reply.eof and not reply.reset, reply
    assert reply.rest == b"", f"more than one response: {reply}"


def assert_still_up(api: LiveAPI, log_mark: int) -> None:
    """GET / answers 200; nothing unexpected logged since ``log_mark``."""
    reply = rawhttp.exchange(api.host, api.port,
                             rawhttp.request("GET", "/"))
    assert reply.status == 200, reply
    assert reply.json()["versions"][0]["id"] == "v1"
    api.assert_running()
    log = api.log()[log_mark:]
    found = [marker for marker in UNEXPECTED if marker in log]
    assert not found, log[-6000:]


def _volume_exists(api: LiveAPI) -> bool:
    reply = _exchange(api, _get(b"/v1/volumes/" + VOLUME))
    return reply.status == 200


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_answers_json_error_and_server_stays_up(live, case):
    mark = len(live.log())
    reply = _exchange(live, case.data)

    assert_error(reply, case.status, case.message)
    assert_closed_after_one_response(reply)
    assert_still_up(live, mark)


def test_bad_input_cases_are_at_least_forty():
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


def test_bad_input_http10_without_host_is_served(live):
    mark = len(live.log())
    reply = _exchange(live, rawhttp.request("GET", "/", version="HTTP/1.0",
                                            host=False, close=False))

    assert reply.status == 200, reply
    assert reply.json()["versions"][0]["id"] == "v1"
    assert_closed_after_one_response(reply)
    assert_still_up(live, mark)


def test_bad_input_absolute_uri_target_is_served_as_its_path(live):
    # RFC 9112 3.2.2: a server must accept the absolute form; the path is
    # what is routed, and the links keep the Host header's authority.
    mark = len(live.log())
    reply = _exchange(live, _get(f"http://other.test/v1/volumes/"
                                 f"{live.volume_id}"))

    assert reply.status == 200, reply
    assert reply.json()["volume"]["id"] == live.volume_id
    assert_closed_after_one_response(reply)
    assert_still_up(live, mark)


def test_bad_input_method_override_query_does_not_delete(live):
    mark = len(live.log())
    reply = _exchange(live, _get(b"/v1/volumes/" + VOLUME +
                                 b"?_method=DELETE"))

    assert reply.status == 200, reply
    assert reply.json()["volume"]["id"] == live.volume_id
    assert _volume_exists(live)
    assert_still_up(live, mark)


def test_bad_input_method_override_header_does_not_delete(live):
    mark = len(live.log())
    reply = _exchange(live, _get(b"/v1/volumes/" + VOLUME,
                                 b"X-HTTP-Method-Override: DELETE"))

    assert reply.status == 200, reply
    assert _volume_exists(live)
    assert_still_up(live, mark)


def test_bad_input_bad_chunk_then_smuggled_request_gets_one_answer(live):
    # A request hidden after a malformed chunked body on a keep-alive
    # connection must never be answered.
    mark = len(live.log())
    smuggled = _get(b"/v1/volumes/" + VOLUME, close=False)
    data = rawhttp.request(
        "POST", "/v1/volumes", [AUTH, JSON_TYPE,
                                "Transfer-Encoding: chunked"],
        b"2\r\n{}XX\r\n0\r\n\r\n" + smuggled, close=False)

    reply = _exchange(live, data)

    assert_error(reply, 400, "longer than its size")
    assert_closed_after_one_response(reply)
    assert_still_up(live, mark)


def test_bad_input_pipelined_requests_on_keep_alive_are_both_answered(live):
    # The control for the test above: well-framed requests on one
    # connection are each answered, in order.
    mark = len(live.log())
    first = _post(_volume('"size": 1, "name": "a"'), close=False)
    second = _get(b"/v1/volumes/" + VOLUME)

    reply = _exchange(live, first + second)

    assert reply.status == 202, reply
    again = rawhttp.parse(reply.rest)
    assert again.status == 200, reply
    assert again.json()["volume"]["id"] == live.volume_id
    assert_still_up(live, mark)


def test_bad_input_valid_chunked_body_is_accepted(live):
    mark = len(live.log())
    reply = _exchange(live, _chunked_post(rawhttp.chunked(
        b'{"volume": ', b'{"size": 1, "name": "chunked"}}')))

    assert reply.status == 202, reply
    assert reply.json()["volume"]["name"] == "chunked"
    assert_still_up(live, mark)


def test_bad_input_blank_request_line_closes_quietly(live):
    mark = len(live.log())
    reply = _exchange(live, b"\r\n\r\n")

    assert reply.raw == b"" and reply.eof, reply
    assert_still_up(live, mark)
