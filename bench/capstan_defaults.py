"""Print, as JSON, the capstan defaults the baselines must match.

Run in a child (``python -m bench.capstan_defaults``) so that the bench's
own process never imports capstan's config stack: the HTTP baseline serves
with the API's green pool size, and the RPC baseline declares its queue
the way capstan's transport does (classic or quorum).
"""
from capstan.common import monkey

monkey.silence_eventlet_warning()

import json  # noqa: E402

from capstan.common import config  # noqa: E402


def main() -> None:
    conf = config.make_conf()
    conf([], project="capstan-bench")
    print(json.dumps({
        "wsgi_default_pool_size": conf.api.wsgi_default_pool_size,
        "rabbit_quorum_queue": conf.oslo_messaging_rabbit.rabbit_quorum_queue,
        "rpc_client_retry": conf.rpc_client_retry,
    }))


if __name__ == "__main__":
    main()
