"""WSGI apps for the integration tier, loaded by ``api-server`` from a paste
file a test writes in its tmp_path (``tests`` is on the server's PYTHONPATH).

``gated`` holds every request until the test says so, through files, since
the test and the server are different processes::

    [app:slow]
    paste.app_factory = tests.integration.apps:gated_app_factory
    gate_dir = /path/to/dir

A request creates ``<gate_dir>/entered``, then waits for
``<gate_dir>/release`` to exist before it answers ``200 released``.
"""
from __future__ import annotations

import pathlib
import time
from typing import Any

POLL = 0.05


def gated_app_factory(global_conf: dict, gate_dir: str, **local_conf: Any):
    gate = pathlib.Path(gate_dir)

    def app(environ, start_response):
        (gate / "entered").touch()
        # time.sleep is green: api-server monkey-patches before anything.
        while not (gate / "release").exists():
            time.sleep(POLL)
        body = b"released"
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app
