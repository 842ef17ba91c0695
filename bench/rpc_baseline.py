"""The RPC baseline: raw oslo.messaging, one-hop casts to an endpoint.

    python -m bench.rpc_baseline server --url U --out result.json
    python -m bench.rpc_baseline client --url U --duration S

No capstan code: the global ``cfg.CONF`` (with ``--quorum``, quorum
queues as capstan's transport declares them; classic otherwise),
``get_rpc_transport``, a
``threading``-executor RPC server (green under the monkey patch, as in
capstan's workers) with one endpoint method, and a client casting to it as
fast as it can for the duration, then a ``stop`` cast carrying how many it
sent. The server counts arrivals at the endpoint; its rate (messages over
first-to-last arrival) is the throughput of one hop on this broker.
"""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
# The executor argument warns even for "threading", which capstan uses too.
warnings.filterwarnings("ignore", category=DeprecationWarning)

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from eventlet import event  # noqa: E402
import oslo_messaging as messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_messaging import opts as messaging_opts  # noqa: E402

TOPIC = "bench_raw"
SERVER = "raw"
PAYLOAD = "x" * 64  # a volume id's worth of argument


class Endpoint:
    def __init__(self, out: str, done) -> None:
        self.out = out
        self.done = done
        self.received = 0
        self.first = self.last = None

    def ping(self, ctxt, seq, payload):
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now
        self.received += 1

    def stop(self, ctxt, sent):
        deadline = time.monotonic() + 60
        while self.received < sent and time.monotonic() < deadline:
            eventlet.sleep(0.01)
        span = (self.last - self.first) if self.first is not None else 0.0
        with open(self.out, "w") as handle:
            json.dump({"sent": sent, "received": self.received,
                       "seconds": span,
                       "rate": self.received / span if span else 0.0},
                      handle)
        self.done.send(True)


def serve(url: str, out: str) -> None:
    transport = messaging.get_rpc_transport(cfg.CONF, url=url)
    done = event.Event()
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=TOPIC, server=SERVER),
        [Endpoint(out, done)], executor="threading")
    server.start()
    print("consuming", flush=True)
    done.wait()
    server.stop()
    server.wait()


def cast(url: str, duration: float) -> None:
    transport = messaging.get_rpc_transport(cfg.CONF, url=url)
    client = messaging.get_rpc_client(
        transport, messaging.Target(topic=TOPIC, server=SERVER))
    deadline = time.monotonic() + duration
    sent = 0
    while time.monotonic() < deadline:
        client.cast({}, "ping", seq=sent, payload=PAYLOAD)
        sent += 1
    client.cast({}, "stop", sent=sent)
    print(json.dumps({"sent": sent}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out")
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--quorum", action="store_true",
                        help="quorum queues, as capstan's transport uses")
    args = parser.parse_args()
    cfg.CONF([], project="bench")
    if args.quorum:
        for group, opts in messaging_opts.list_opts():
            cfg.CONF.register_opts(opts, group=group)
        cfg.CONF.set_override("rabbit_quorum_queue", True,
                              group="oslo_messaging_rabbit")
    if args.role == "server":
        serve(args.url, args.out)
    else:
        cast(args.url, args.duration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
