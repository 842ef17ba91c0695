"""The HTTP baseline: a bare eventlet.wsgi server and a WebOb hello world.

    python -m bench.baseline_app --port 8790

Served the way api-server serves (common/wsgi.py): one process, the
standard library monkey-patched, one GreenPool of ``--pool-size`` (the
bench passes capstan's ``[api] wsgi_default_pool_size``), keep-alive on,
eventlet's access log on (here eventlet's default, a line on stderr per
request; api-server's goes through oslo.log). No paste, no routes, no
filters, no database: what is left of a request is what no Python WSGI app
on eventlet can avoid.
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402

import webob  # noqa: E402
import webob.dec  # noqa: E402
from eventlet import wsgi  # noqa: E402

BODY = json.dumps({"hello": "world"}).encode()


@webob.dec.wsgify
def hello(request: webob.Request) -> webob.Response:
    return webob.Response(body=BODY, content_type="application/json",
                          charset="UTF-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pool-size", type=int, default=100)
    args = parser.parse_args()
    sock = eventlet.listen(("127.0.0.1", args.port), backlog=128)
    print(f"listening on http://127.0.0.1:{args.port}", flush=True)
    wsgi.server(sock, hello, custom_pool=eventlet.GreenPool(args.pool_size),
                keepalive=True, socket_timeout=900, debug=False)


if __name__ == "__main__":
    main()
