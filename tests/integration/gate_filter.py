"""A paste filter that holds every request at a gate, for the API
shutdown fault test (``tests.integration.test_faults``).

::

    [filter:gate]
    paste.filter_factory = tests.integration.gate_filter:gate_filter_factory
    gate_dir = /path/to/dir

Once ``<gate_dir>/armed`` exists, a request appends one line to
``<gate_dir>/entered`` (one ``O_APPEND`` write, so concurrent requests
never interleave), then waits for ``<gate_dir>/release`` to exist before it
goes on down the pipeline. Before that the gate is open, so that the
cluster can start. The test arms the gate, counts the lines to know how
many requests are in flight, signals the server, then opens the gate.
"""
from __future__ import annotations

import os
import pathlib
import time
from typing import Any

POLL = 0.05


def gate_filter_factory(global_conf: dict, gate_dir: str,
                        **local_conf: Any):
    gate = pathlib.Path(gate_dir)

    def gate_filter(app):
        def held(environ, start_response):
            if not (gate / "armed").exists():
                return app(environ, start_response)
            line = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}\n"
            fd = os.open(gate / "entered",
                         os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
            # time.sleep is green: api-server monkey-patches first.
            while not (gate / "release").exists():
                time.sleep(POLL)
            return app(environ, start_response)

        return held

    return gate_filter
