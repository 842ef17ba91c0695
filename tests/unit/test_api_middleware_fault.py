"""faultwrap: each exception kind to its status, always the JSON body."""
from __future__ import annotations

import oslo_messaging
import pytest
import webob
import webob.exc

from capstan.api import wsgi_util
from capstan.api.middleware.fault import FaultWrapper
from capstan.common import exception
from capstan_volumes import exception as volume_exception

REQUEST_ID = "req-00000000-0000-0000-0000-000000000000"


def raising(error):
    def app(environ, start_response):
        raise error
    return app


def call(app) -> webob.Response:
    req = webob.Request.blank("/thing")
    req.environ[wsgi_util.REQUEST_ID_KEY] = REQUEST_ID
    return req.get_response(FaultWrapper(app))


def error_of(response, code):
    assert response.status_code == code
    assert response.content_type == "application/json"
    error = response.json_body["error"]
    assert error["code"] == code and error["request_id"] == REQUEST_ID
    return error


@pytest.mark.parametrize("error, code", [
    (volume_exception.VolumeNotFound(volume_id="v"), 404),
    (exception.Invalid("size must be positive"), 400),
    (exception.InvalidStatus(resource="Volume", id="v", status="creating",
                             expected="available"), 409),
    (exception.RPCVersionTooNew(method="m", version="1.1", topic="t",
                                cap="1.0"), 409),
    (exception.NotAuthorized(), 401),
    (exception.Forbidden(), 403),
    (exception.ServiceUnavailable(), 503),
    (oslo_messaging.MessagingTimeout("no reply"), 503),
    (oslo_messaging.MessageDeliveryFailure("nack"), 503),
    (oslo_messaging.MessagingException("connection lost"), 503),
    (oslo_messaging.RemoteError("ValueError", "bug"), 500),
    (exception.NoValidHost(reason="full"), 500),
    (KeyError("x"), 500),
])
def test_faultwrap_maps_exception_to_status(error, code):
    error_of(call(raising(error)), code)


def test_faultwrap_domain_message_reaches_client():
    response = call(raising(exception.Invalid("size must be positive")))
    assert error_of(response, 400)["message"] == "size must be positive"


def test_faultwrap_hides_backend_detail_of_503(caplog):
    response = call(raising(exception.ServiceUnavailable(
        "database unavailable: could not connect to 10.1.2.3")))
    assert "10.1.2.3" not in response.text
    assert "10.1.2.3" in caplog.text


def test_faultwrap_unexpected_error_is_generic_and_logged(caplog):
    response = call(raising(RuntimeError("password=hunter2")))
    error = error_of(response, 500)
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "Traceback" in caplog.text and REQUEST_ID in caplog.text
    assert error["title"] == "Internal Server Error"


def test_faultwrap_http_error_keeps_status_message_and_headers():
    response = call(raising(wsgi_util.HTTPError(
        405, "use GET", headers=[("Allow", "GET")])))
    assert error_of(response, 405)["message"] == "use GET"
    assert response.headers["Allow"] == "GET"


def test_faultwrap_webob_exception_keeps_status():
    response = call(raising(webob.exc.HTTPRequestEntityTooLarge()))
    assert "too large" in error_of(response, 413)["message"]


def test_faultwrap_rewrites_html_error_from_inner_layer():
    inner = webob.exc.HTTPMethodNotAllowed(headers=[("Allow", "PUT")])
    req = webob.Request.blank("/", headers={"Accept": "text/html"})
    req.environ[wsgi_util.REQUEST_ID_KEY] = REQUEST_ID
    response = req.get_response(FaultWrapper(inner))
    error_of(response, 405)
    assert response.headers["Allow"] == "PUT"
    assert "<html" not in response.text


def test_faultwrap_rewrites_webob_json_error_from_inner_layer():
    inner = webob.exc.HTTPRequestEntityTooLarge()
    req = webob.Request.blank("/", headers={"Accept": "application/json"})
    req.environ[wsgi_util.REQUEST_ID_KEY] = REQUEST_ID
    error_of(req.get_response(FaultWrapper(inner)), 413)


def test_faultwrap_keeps_own_shaped_error_body():
    body = wsgi_util.error_body(503, "db down", REQUEST_ID)
    body["checks"] = {"database": "unavailable"}
    inner = wsgi_util.json_response(body, status=503)
    response = call(inner)
    assert response.json_body == body


def test_faultwrap_passes_success_through():
    response = call(wsgi_util.json_response({"ok": True}))
    assert response.status_code == 200
    assert response.json_body == {"ok": True}
