"""The ``worker`` binary: one Service for one topic, in 1..N processes.

    worker --topic TOPIC [--config-file capstan.conf] [--workers N]
"""
from capstan.common import monkey

monkey.patch()

import functools  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from oslo_config import cfg  # noqa: E402

from capstan.common import cmd, config, exception, rpc  # noqa: E402
from capstan.common.db.api import Database  # noqa: E402
from capstan.common.launcher import ProcessLauncher, ServiceLauncher  # noqa: E402
from capstan.common.service import Service, load_manager  # noqa: E402

LOG = logging.getLogger(__name__)

cli_opts = [
    cfg.StrOpt("topic", required=True, positional=False,
               help="Topic to serve; its manager is [DEFAULT] <topic>_manager."),
    cfg.IntOpt("workers", min=1,
               help="Processes to run; overrides [worker] workers."),
]


def main(argv: list[str] | None = None) -> int:
    conf = config.make_conf()
    conf.register_cli_opts(cli_opts)
    try:
        cmd.parse(conf, argv)
        manager_cls = load_manager(
            config.manager_path_for_topic(conf, conf.topic))
    except (config.ConfigError, exception.ManagerNotFound) as exc:
        return cmd.fail("worker", str(exc))
    cmd.setup_logging(conf)
    factory = functools.partial(build_service, conf, conf.topic, manager_cls)
    try:
        cmd.exit_process(
            _run(conf, factory, conf.workers or conf.worker.workers))
    except exception.CapstanError as exc:
        error = str(exc)
    LOG.error("worker for topic %s cannot start: %s", conf.topic, error)
    return cmd.fail("worker", error, status=1)


def build_service(conf: cfg.ConfigOpts, topic: str,
                  manager_cls: type) -> Service:
    """Build the service; runs in the process that serves (after a fork)."""
    if conf.database.connection.startswith("sqlite"):
        config.ensure_state_path(conf)
    db = Database(conf.database.connection,
                  pool_size=conf.database.pool_size,
                  max_overflow=conf.database.max_overflow)
    return Service.create(conf, db, rpc.get_transport(conf), topic=topic,
                          manager=manager_cls, binary="worker")


def _run(conf: cfg.ConfigOpts, factory, workers: int) -> int:
    reload_config = conf.mutate_config_files
    if workers > 1:
        launcher = ProcessLauncher(conf.graceful_shutdown_timeout,
                                   reload_config=reload_config,
                                   respawn_throttle=conf.worker.respawn_throttle)
        launcher.launch_service(factory, workers)
    else:
        launcher = ServiceLauncher(conf.graceful_shutdown_timeout,
                                   reload_config=reload_config)
        launcher.launch_service(factory())
    return launcher.wait()


if __name__ == "__main__":
    sys.exit(main())
