"""oslo.middleware filters built without the global cfg.CONF."""
from __future__ import annotations

import webob
from oslo_config import cfg

from capstan.api.middleware import oslo_filters


def ok(environ, start_response):
    return webob.Response("ok")(environ, start_response)


def test_sizelimit_refuses_bodies_over_the_limit():
    app = oslo_filters.build_sizelimit(ok, 10)
    req = webob.Request.blank("/", method="PUT", body=b"x" * 11)
    assert req.get_response(app).status_code == 413
    req = webob.Request.blank("/", method="PUT", body=b"x" * 10)
    assert req.get_response(app).status_code == 200


def test_sizelimit_limits_are_per_filter_not_global():
    small = oslo_filters.build_sizelimit(ok, 10)
    oslo_filters.build_sizelimit(ok, 1000)
    req = webob.Request.blank("/", method="PUT", body=b"x" * 100)
    assert req.get_response(small).status_code == 413
    # Nothing was written to the global config. (Importing oslo.middleware
    # registers some of its options there; that much is out of our hands.)
    group = cfg.CONF.oslo_middleware
    assert "max_request_body_size" not in group or \
        group.max_request_body_size == 114688


def test_request_id_sets_header_and_environ():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return ok(environ, start_response)
    response = webob.Request.blank("/").get_response(
        oslo_filters.build_request_id(app))
    assert response.headers["x-openstack-request-id"] == \
        seen["openstack.request_id"]


def test_request_id_is_current_before_any_later_filter_sets_a_context():
    from oslo_context import context as oslo_context
    # What a previous request of the same connection left current.
    oslo_context.RequestContext(request_id="req-previous", overwrite=True)
    current = {}

    def refused_before_the_context_filter(environ, start_response):
        current["id"] = oslo_context.get_current().request_id
        return webob.Response(status=401)(environ, start_response)
    app = oslo_filters.build_request_id(refused_before_the_context_filter)

    response = webob.Request.blank("/").get_response(app)

    assert current["id"] == response.headers["x-openstack-request-id"]
