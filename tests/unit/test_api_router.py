"""The Router: dispatch by path and method, 404 and 405 with Allow."""
from __future__ import annotations

import pytest
import webob

from capstan.api import router, wsgi_util


class Things:
    def index(self, req):
        return wsgi_util.json_response({"things": []})

    def update(self, req, id):
        return wsgi_util.json_response({"id": id})


@pytest.fixture
def app():
    things = Things()
    mapper = router.routes_mapper()
    mapper.connect("/things", handler=things.index, conditions=router.GET)
    mapper.connect("/things/{id}", handler=things.update,
                   conditions=router.PUT, requirements=router.ID)
    return router.Router(mapper)


def call(app, method, path):
    return webob.Request.blank(path, method=method).get_response(app)


def test_router_dispatches_with_url_vars(app):
    assert call(app, "PUT", "/things/12").json_body == {"id": "12"}
    assert call(app, "GET", "/things").json_body == {"things": []}


def test_router_unknown_path_raises_404(app):
    with pytest.raises(wsgi_util.HTTPError) as info:
        call(app, "GET", "/nothing")
    assert info.value.code == 404


def test_router_non_numeric_id_raises_404(app):
    with pytest.raises(wsgi_util.HTTPError) as info:
        call(app, "PUT", "/things/abc")
    assert info.value.code == 404


def test_router_wrong_method_raises_405_with_allow(app):
    with pytest.raises(wsgi_util.HTTPError) as info:
        call(app, "DELETE", "/things/1")
    assert info.value.code == 405
    assert info.value.headers == [("Allow", "PUT")]


def test_router_ignores_method_override(app):
    with pytest.raises(wsgi_util.HTTPError) as info:
        call(app, "POST", "/things/1?_method=PUT")
    assert info.value.code == 405
