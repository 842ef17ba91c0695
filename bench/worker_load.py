"""Benchmark 6's load on a volume worker: RPC requests, create then delete.

    python -m bench.worker_load --transport-url U --db-url D --host H \\
        --requests 10000 --batch 500

Per batch: insert ``batch`` rows ``creating`` on ``host`` (as the scheduler
leaves them), cast ``create_volume`` for each through capstan's own
VolumeAPI (the messages the scheduler sends), wait until all are
``available``; set them ``deleting`` (as the API does), cast
``delete_volume`` for each, wait until all are deleted. Each cast is one
request; the fake driver ends each batch holding nothing, so whatever
memory stays is the worker's, not the data's.
"""
from capstan.common import monkey

monkey.patch()

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from capstan.common import config, rpc  # noqa: E402
from capstan.common.context import get_admin_context  # noqa: E402
from capstan.common.db import models  # noqa: E402
from capstan_volumes.volume.rpcapi import VolumeAPI  # noqa: E402
from capstan_volumes import models as volume_models  # noqa: E402

TIMEOUT = 120.0


def _wait(engine: sa.Engine, ids: list[str], condition: str) -> None:
    query = sa.text(f"SELECT count(*) FROM volumes WHERE id IN :ids AND "
                    f"{condition}").bindparams(sa.bindparam("ids",
                                                            expanding=True))
    deadline = time.monotonic() + TIMEOUT
    while True:
        with engine.connect() as connection:
            if connection.execute(query, {"ids": ids}).scalar() == len(ids):
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"worker_load: timed out waiting for {condition}")
        time.sleep(0.02)


def batch(engine: sa.Engine, api: VolumeAPI, host: str, size: int) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    ids = [str(uuid.uuid4()) for _ in range(size)]
    with engine.begin() as connection:
        connection.execute(sa.insert(volume_models.Volume.__table__), [{
            "id": volume_id, "name": "", "size": 1, "status": "creating",
            "host": host, "availability_zone": "zone1", "project_id": "bench",
            "user_id": "bench", "metadata": {}, "scheduler_hints": {},
            "schedule_attempts": 0, "created_at": now, "updated_at": now}
            for volume_id in ids])
    context = get_admin_context()
    for volume_id in ids:
        api.create_volume(context, host=host, volume_id=volume_id)
    _wait(engine, ids, "status = 'available'")
    table = volume_models.Volume.__table__
    with engine.begin() as connection:
        connection.execute(sa.update(table).where(table.c.id.in_(ids))
                           .values(status="deleting"))
    for volume_id in ids:
        api.delete_volume(context, host=host, volume_id=volume_id)
    _wait(engine, ids, "deleted_at IS NOT NULL")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport-url", required=True)
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    conf = config.make_conf()
    conf([], project="capstan-bench")
    conf.set_override("transport_url", args.transport_url)
    engine = sa.create_engine(args.db_url)
    api = VolumeAPI(rpc.get_transport(conf))
    started, done = time.monotonic(), 0
    while done < args.requests:
        batch(engine, api, args.host, args.batch)
        done += 2 * args.batch
    seconds = time.monotonic() - started
    print(json.dumps({"requests": done, "seconds": seconds,
                      "rate": done / seconds}))


if __name__ == "__main__":
    main()
