"""oslo.middleware's filters, built without the global ``cfg.CONF``.

oslo.middleware falls back to the global ``cfg.CONF`` when given a dict of
options, and even writes overrides into it. capstan has no global config,
so each filter here gets a private ``ConfigOpts`` carrying only the values
from its section of the paste file.
"""
from __future__ import annotations

from typing import Callable, Iterable

from oslo_config import cfg
from oslo_middleware import request_id, sizelimit

from api import wsgi_util

# Same default as oslo.middleware: 112 KiB.
DEFAULT_MAX_REQUEST_BODY_SIZE = 114688


def build_request_id(application: Callable) -> request_id.RequestId:
    """Give each request an id (``x-openstack-request-id`` on responses)."""
    return request_id.RequestId(application, cfg.ConfigOpts())


def build_sizelimit(application: Callable,
                    max_request_body_size: int) -> Callable:
    """Answer 413 to bodies larger than ``max_request_body_size`` bytes."""
    conf = cfg.ConfigOpts()
    limiter = sizelimit.RequestBodySizeLimiter(application, conf)
    conf.set_override("max_request_body_size", max_request_body_size,
                      group="oslo_middleware")

    def limit(environ: dict, start_response: Callable) -> Iterable[bytes]:
        # A chunked body would otherwise reach the limiter as empty.
        wsgi_util.mark_chunked_body_readable(environ)
        return limiter(environ, start_response)
    return limit
