"""Benchmark 8's simulated volume hosts: many real worker Services in one
process.

    python -m bench.sim_hosts --config-file capstan.conf --first 0 \\
        --count 100 [--pool-size 4]

Builds ``count`` ``Service.create(conf, db, transport, topic="volume",
host=f"sim-{i:04d}")`` with the volume Manager and the deployment's driver
(``fake``), all sharing one Database (a small pool: PostgreSQL's
max_connections is shared by every simulator process) and one transport,
and runs them under one ServiceLauncher, the way ``worker`` runs its one
Service. Each keeps its own RPC server, heartbeat (``report_interval``)
and periodic capability report (every 10 s); ``periodic_fuzzy_delay`` is
the report spacing, so the first reports, and hence every later one, are
spread evenly over the period instead of all leaving together.

Prints ``sim_hosts: N started`` once every Service runs; SIGTERM stops
them all (graceful, like ``worker``).
"""
from capstan.common import monkey

monkey.patch()

import argparse  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

from capstan.common import cmd, config, rpc  # noqa: E402
from capstan.common.db.api import Database  # noqa: E402
from capstan.common.launcher import ServiceLauncher  # noqa: E402
from capstan.common.service import Service  # noqa: E402

LOG = logging.getLogger("bench.sim_hosts")

# The volume Manager's publish_service_capabilities spacing
# (capstan.common.manager.SchedulerDependentManager).
REPORT_SPACING = 10


def raise_open_files() -> int:
    """Each Service holds a broker connection; lift the soft fd limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def host_name(index: int) -> str:
    return f"sim-{index:04d}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--max-overflow", type=int, default=2)
    args = parser.parse_args()
    files = raise_open_files()
    conf = config.make_conf()
    cmd.parse(conf, ["--config-file", args.config_file])
    cmd.setup_logging(conf)
    db = Database(conf.database.connection, pool_size=args.pool_size,
                  max_overflow=args.max_overflow)
    transport = rpc.get_transport(conf)
    launcher = ServiceLauncher(conf.graceful_shutdown_timeout)
    started = time.monotonic()
    for index in range(args.first, args.first + args.count):
        launcher.launch_service(Service.create(
            conf, db, transport, topic="volume", host=host_name(index),
            binary="worker", periodic_fuzzy_delay=REPORT_SPACING))
    # Parsed by bench.report_scale; keep the wording.
    print(f"sim_hosts: {args.count} started in "
          f"{time.monotonic() - started:.1f} s (open files {files})",
          flush=True)
    cmd.exit_process(launcher.wait())


if __name__ == "__main__":
    raise SystemExit(main())
