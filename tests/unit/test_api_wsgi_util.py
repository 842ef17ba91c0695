"""Strict parsing of bodies and query strings."""
from __future__ import annotations

import pytest
import webob

from capstan.api import wsgi_util
from capstan.common import exception


def request(body: bytes, content_type="application/json", query=""):
    req = webob.Request.blank("/" + query, method="PUT")
    req.body = body
    if content_type is not None:
        req.content_type = content_type
    return req


def test_read_json_object_returns_the_object():
    assert wsgi_util.read_json_object(request(b'{"a": [1, "b"]}')) == {
        "a": [1, "b"]}


@pytest.mark.parametrize("body", [
    b"", b"{", b"[1]", b'"s"', b"\xc3\x28", b'{"a": "\x00"}',
    b'{"\\u0000": 1}', b'{"a": ["\\udfff"]}', b'{"a": Infinity}',
    b"[" * 100_000 + b"]" * 100_000])
def test_read_json_object_rejects_bad_bodies_with_invalid(body):
    with pytest.raises(exception.Invalid):
        wsgi_util.read_json_object(request(body))


@pytest.mark.parametrize("content_type", [None, "text/json", "text/plain",
                                          "application/json; charset=ascii"])
def test_read_json_object_wrong_content_type_is_415(content_type):
    with pytest.raises(wsgi_util.HTTPError) as info:
        wsgi_util.read_json_object(request(b"{}", content_type))
    assert info.value.code == 415


def test_query_params_returns_allowed_ones():
    req = request(b"", query="?host=h1&topic=volume")
    assert wsgi_util.query_params(req, ["host", "topic"]) == {
        "host": "h1", "topic": "volume"}


@pytest.mark.parametrize("query", ["?hots=h", "?host=a&host=b", "?host=%00",
                                   "?host=%ff"])
def test_query_params_rejects_unknown_repeated_or_bad(query):
    with pytest.raises(exception.Invalid):
        wsgi_util.query_params(request(b"", query=query), ["host"])


def test_context_of_without_context_filter_is_a_server_error():
    with pytest.raises(RuntimeError, match="context"):
        wsgi_util.context_of(webob.Request.blank("/"))


def test_empty_response_has_no_body_or_type():
    response = wsgi_util.empty_response()
    assert response.status_code == 204 and response.body == b""
    assert "Content-Type" not in response.headers


def test_mark_chunked_body_readable_only_for_chunked_without_length():
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked"}
    wsgi_util.mark_chunked_body_readable(chunked)
    assert chunked["wsgi.input_terminated"] is True
    sized = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": "2"}
    wsgi_util.mark_chunked_body_readable(sized)
    assert "wsgi.input_terminated" not in sized
