"""Every capstan option, declared once, and the one way to build a config.

NOTE(capstan): capstan never uses the global ``cfg.CONF``. Each entry point
calls :func:`make_conf` to get a private ``ConfigOpts`` and passes it down;
tests build their own the same way. oslo.messaging 18.x registers its
tracing and metrics options only on the global object at import time, so
:func:`make_conf` registers them on the private object too (DESIGN.md 6).
"""
from __future__ import annotations

import os
import socket

from oslo_config import cfg
from oslo_log import log as logging
from oslo_messaging import opts as messaging_opts
from oslo_messaging._metrics import client as metrics_client
from oslo_messaging._tracing import client as tracing_client
from oslo_policy import opts as policy_opts

from capstan.common import application

DEFAULT_STATE_PATH = os.path.join(os.path.expanduser("~"), ".local", "state",
                                  "capstan")


default_opts = [
    cfg.StrOpt("host", default=socket.gethostname(),
               sample_default="<hostname>",
               help="Name of this node, unique among the workers of a "
                    "topic. RPC casts addressed to one host use it as the "
                    "server name, and the service record is keyed on it."),
    cfg.StrOpt("state_path", default=DEFAULT_STATE_PATH,
               sample_default="~/.local/state/capstan",
               help="Directory for capstan's local state: the SQLite "
                    "database of the embedded default, tokens, and what "
                    "applications keep on this host."),
    cfg.IntOpt("report_interval", default=10, min=1,
               help="Seconds between heartbeats of a service to its "
                    "service record."),
    cfg.IntOpt("service_down_time", default=60, min=1,
               help="A service whose last heartbeat is older than this many "
                    "seconds is reported down. Keep it well above "
                    "report_interval."),
    cfg.IntOpt("periodic_interval", default=60, min=1,
               help="Longest time, in seconds, the periodic task loop sleeps "
                    "between two looks at its tasks."),
    cfg.IntOpt("periodic_fuzzy_delay", default=60, min=0,
               help="Largest random delay, in seconds, before the first "
                    "periodic run, so that many services started together "
                    "do not all hit the database at once. 0 disables it."),
    cfg.BoolOpt("run_external_periodic_tasks", default=True,
                help="Run periodic tasks marked external_process_ok here. "
                     "Set to False where another process runs them."),
    cfg.IntOpt("graceful_shutdown_timeout", default=60, min=0,
               help="Seconds a stopping service waits for in-flight requests "
                    "and RPC calls to finish before it gives up on them."),
    cfg.StrOpt("availability_zone", default="zone1",
               help="Availability zone this host belongs to."),
    # NOTE(capstan): 1, not 3. The waits between attempts grow (1 s, then
    # 3 s, 5 s: [oslo_messaging_rabbit] rabbit_retry_interval and
    # rabbit_retry_backoff, plus kombu_reconnect_delay), and oslo.messaging
    # spends the budget up to three times (a new pooled connection, the
    # publish, the reset of the connection before it goes back to the
    # pool): measured with the broker stopped, 2 answered 503 after 6-12 s,
    # 1 after 2-3 s (docs/reliability.md, "Faults").
    cfg.IntOpt("rpc_client_retry", default=1, min=0,
               help="How many times an API-side RPC client retries a broker "
                    "connection before it gives up, so that a REST client "
                    "gets a 503 instead of a hung request. Each retry waits "
                    "longer than the one before: with the broker down, 1 "
                    "answers within about 3 seconds, 2 may take 12."),
]

worker_opts = [
    cfg.IntOpt("workers", default=1, min=1,
               help="Number of worker processes per 'worker' command. More "
                    "than one runs the service in forked children that are "
                    "respawned when they die."),
    cfg.FloatOpt("respawn_throttle", default=1.0, min=0,
                 help="Least time, in seconds, between two respawns of the "
                      "same child process."),
]

database_opts = [
    cfg.StrOpt("connection",
               default="sqlite:///$state_path/capstan.sqlite",
               secret=True,
               help="SQLAlchemy URL of the database. The default is SQLite "
                    "under state_path; for PostgreSQL use "
                    "postgresql+psycopg://user@host/dbname."),
    cfg.IntOpt("pool_size", default=10, min=1,
               help="Connections kept open per process (not for SQLite)."),
    cfg.IntOpt("max_overflow", default=20, min=0,
               help="Connections opened beyond pool_size under load."),
]

api_opts = [
    cfg.HostAddressOpt("bind_host", default="127.0.0.1",
                       help="Address the API listens on."),
    cfg.PortOpt("bind_port", default=8780,
                help="Port the API listens on; 0 picks a free port."),
    cfg.IntOpt("api_workers", default=1, min=1,
               help="Number of API processes sharing the listening socket."),
    cfg.StrOpt("paste_config", default="api-paste.ini",
               help="Paste deploy file; a relative name is looked up next "
                    "to the config files, then in the installed etc/."),
    cfg.StrOpt("auth_strategy", default="token",
               choices=[("token", "X-Auth-Token checked against token_file"),
                        ("noauth", "identity from X-User-Id, X-Project-Id "
                                   "and X-Roles headers; development only")],
               help="How API requests are authenticated."),
    cfg.StrOpt("token_file", default="$state_path/tokens",
               help="File of sha256-hashed API tokens written by "
                    "'capstan-manage token create'."),
    # NOTE(capstan): 1000, not oslo.service's 100: eventlet.wsgi gives
    # each connection a green thread of this pool from accept to close, so
    # 100 slow or idle clients (a slowloris, keep-alive pools) used to
    # lock everyone else out for client_socket_timeout. A waiting green
    # thread costs a few KiB; the database pool bounds the real work.
    cfg.IntOpt("wsgi_default_pool_size", default=1000, min=1,
               help="Client connections served at once, per API process. "
                    "Each open connection, busy or idle (keep-alive, or "
                    "still sending its request), holds one green thread "
                    "of this pool; beyond it new connections wait in the "
                    "listen backlog. Concurrent database work is bounded "
                    "by [database] pool_size and max_overflow instead. "
                    "Keep the open-file limit of the process above it."),
    cfg.IntOpt("backlog", default=128, min=1,
               help="Listen backlog of the API socket."),
    cfg.BoolOpt("access_log", default=True,
                help="Log one line per request (client, request line, "
                     "status, size, seconds) at INFO. Each line costs "
                     "about a fifth of the throughput of a small request; "
                     "turn it off when a proxy in front logs requests."),
    cfg.BoolOpt("wsgi_keep_alive", default=True,
                help="Keep client connections open between requests."),
    cfg.IntOpt("client_socket_timeout", default=900, min=0,
               help="Seconds a client connection may stay idle or send "
                    "nothing before it is closed. 0 waits forever."),
    cfg.IntOpt("max_header_line", default=16384, min=1,
               help="Longest request header line accepted, in bytes."),
    cfg.IntOpt("deleted_service_retention_days", default=30, min=0,
               help="Service records soft-deleted more than this many days "
                    "ago are removed for good by a periodic task of the "
                    "API. 0 keeps them forever."),
    cfg.IntOpt("max_creating", default=1000, min=0,
               help="Load shedding: while this many rows of a resource "
                    "are being created (status 'creating', counted in the "
                    "database every admission_refresh_interval), new "
                    "creates of it answer 503 with Retry-After at once, "
                    "before touching the database, instead of queueing "
                    "behind the backlog. Each api-server process counts "
                    "its own admissions between two reads, so with N "
                    "processes the backlog may pass the bound by what N "
                    "admit in one interval. 0: no bound."),
    cfg.FloatOpt("max_create_wait", default=10.0, min=0,
                 help="Load shedding by latency: rows of a resource still "
                      "being created this many seconds after they were "
                      "are late. From 8 late rows on (read from the "
                      "database every admission_refresh_interval), that "
                      "share of new creates answers 503 with Retry-After "
                      "at once: the late rows' share of all the rows being "
                      "created, up to all of them. This bounds how long an "
                      "accepted create waits behind a queue, whatever rate "
                      "the workers drain at; set it above the time a "
                      "create takes when nothing queues (the driver's own "
                      "time included). Rows left creating by a dead host "
                      "count until they are twice as old and 10 s more. "
                      "0: no bound."),
    cfg.FloatOpt("admission_refresh_interval", default=1.0, min=0.05,
                 help="Seconds between two counts of the rows being "
                      "created, per resource and api-server process."),
]


scheduler_opts = [
    cfg.ListOpt("filters",
                default=["AvailabilityZoneFilter", "AggregateMetadataFilter",
                         "CapacityFilter", "DifferentHostFilter",
                         "SameHostFilter"],
                help="Host filters, applied in this order; a host must pass "
                     "them all. Each entry is an entry-point name of the "
                     "capstan.scheduler.filters group (built in: "
                     "AggregateMetadataFilter, AvailabilityZoneFilter, "
                     "CapacityFilter, DifferentHostFilter, SameHostFilter) "
                     "or the dotted path of a "
                     "capstan.worker.scheduler.filters.BaseHostFilter subclass."),
    cfg.ListOpt("weighers", default=["CapacityWeigher"],
                help="Host weighers; each one's weights are normalised to "
                     "[0, 1] across the hosts, multiplied by its multiplier "
                     "and summed, and the heaviest host wins. Each entry is "
                     "an entry-point name of the capstan.scheduler.weighers "
                     "group (built in: CapacityWeigher) or the dotted path "
                     "of a capstan.worker.scheduler.weighers.BaseHostWeigher "
                     "subclass."),
    cfg.FloatOpt("capacity_weight_multiplier", default=1.0,
                 help="Multiplier of the CapacityWeigher. Positive values "
                      "prefer the host with the most free capacity "
                      "(spreading); negative values the one with the least "
                      "(stacking)."),
]


coordination_opts = [
    cfg.StrOpt("backend_url", default="file://$state_path/coordination",
               secret=True,
               help="tooz URL of the coordination backend that makes sure a "
                    "periodic task marked singleton (the once-per-deployment "
                    "jobs) runs in one process at a time. The default, file "
                    "locks under state_path, covers the processes of one "
                    "machine. For several machines use redis://host:6379 "
                    "(add ?namespace=NAME when deployments share one Redis) "
                    "or etcd3+http://host:2379 (pip install etcd3gw). Only "
                    "services whose manager has singleton tasks connect."),
    # NOTE(capstan): 30 s, tooz's own default for Redis and etcd3 locks.
    # The holder refreshes its locks every third of it; the jobs marked so
    # (re-sends, purges) can afford half a minute without a runner.
    cfg.IntOpt("lock_timeout", default=30, min=1,
               help="Seconds a job's lock outlives the last refresh by its "
                    "holder (redis and etcd3 backends; a file lock is freed "
                    "when its process dies). When the process running a "
                    "singleton task dies, another one takes the task over "
                    "within lock_timeout plus the task's spacing. The holder "
                    "refreshes its locks every lock_timeout / 3 seconds."),
]


def manager_opts(topics: list[application.Topic]) -> list[cfg.Opt]:
    """``[DEFAULT] <topic>_manager`` for each topic an application declares."""
    return [cfg.StrOpt(f"{topic.name}_manager", default=topic.manager,
                       help=topic.help or f"Manager class run by 'worker "
                                          f"--topic {topic.name}'.")
            for topic in topics]


def upgrade_levels_opts(topics: list[application.Topic]) -> list[cfg.Opt]:
    """``[upgrade_levels] <topic>``: the RPC version cap of each topic an
    application declares (capstan.common.upgrade_levels reads them)."""
    names = dict.fromkeys(topic.name for topic in topics)
    cache = cfg.FloatOpt(
        "auto_cache_seconds", default=30.0, min=0,
        help="Seconds a process reuses an automatic ('auto') cap before "
             "it reads the service records again: an upgraded service is "
             "sent its new messages at most this long after it starts.")
    return [cache] + [cfg.StrOpt(
        name, default="auto", regex=r"^(auto|[1-9][0-9]*\.[0-9]+)$",
        help=f"Highest RPC version sent to the {name!r} topic: 'auto' (the "
             "lowest version its running services record in the database) "
             "or a version such as 1.2 (a pin, e.g. while a rolling "
             "upgrade starts). A message that needs more is refused (409 "
             "on the API), never sent to be dropped.") for name in names]


def list_opts(applications: list[application.Application] | None = None
              ) -> list[tuple[str, list[cfg.Opt]]]:
    """Return the framework's options by group, for oslo-config-generator.

    The ``<topic>_manager`` options of the installed applications are
    listed here; each application lists its own options in its own
    ``oslo.config.opts`` namespace.
    """
    if applications is None:
        applications = application.load_applications()
    topics = application.topics(applications)
    return [
        ("DEFAULT", default_opts + manager_opts(topics)),
        ("worker", worker_opts),
        ("database", database_opts),
        ("api", api_opts),
        ("scheduler", scheduler_opts),
        ("coordination", coordination_opts),
        ("upgrade_levels", upgrade_levels_opts(topics)),
    ]


# capstan's defaults for oslo.messaging's options, by (group, name).
MESSAGING_DEFAULTS = {
    # The in-process bus is the embedded default (DESIGN.md section 4).
    ("DEFAULT", "transport_url"): "fake://",
    # NOTE(capstan): with rabbit:// a cast must outlive a restart of the
    # broker (README, "RabbitMQ queue settings"). Quorum queues are durable
    # and replicated, and their messages persistent (kombu's default); with
    # the publisher confirms oslo.messaging always asks for, a cast that
    # returned is on disk. Reply and fanout queues stay transient: a lost
    # reply is a timeout (503), a lost capability report is sent again.
    ("oslo_messaging_rabbit", "rabbit_quorum_queue"): True,
}


def update_sample_defaults() -> None:
    """Show capstan's defaults in the sample (oslo.config.opts.defaults).

    oslo-config-generator calls this before it lists the options, in its
    own process only: it sets the defaults on oslo.messaging's module-level
    option objects, which capstan's services never do (they set them on
    their private ConfigOpts, see make_conf).
    """
    # NOTE(capstan): list_opts() hands out deep copies, so the generator's
    # own listing would not see a change made to them; _opts holds the
    # option objects themselves (oslo.messaging 18.x).
    for group, opts in messaging_opts._opts:
        group = group or "DEFAULT"
        for opt in opts:
            if (group, opt.name) in MESSAGING_DEFAULTS:
                opt.default = MESSAGING_DEFAULTS[group, opt.name]


def _register_oslo_messaging_opts(conf: cfg.ConfigOpts) -> None:
    # Registered up front, not lazily by oslo.messaging, so that
    # check_values() sees a bad [oslo_messaging_rabbit] value at start-up.
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)
    for (group, name), value in MESSAGING_DEFAULTS.items():
        conf.set_default(name, value,
                         group=None if group == "DEFAULT" else group)
    # NOTE(capstan): see the module docstring; these are the two groups
    # oslo.messaging reads from any conf but registers only on cfg.CONF.
    conf.register_opts(metrics_client.oslo_messaging_metrics,
                       group="oslo_messaging_metrics")
    conf.register_opts(tracing_client.oslo_messaging_tracing,
                       group="oslo_messaging_tracing")


def make_conf(applications: list[application.Application] | None = None
              ) -> cfg.ConfigOpts:
    """Build a private ConfigOpts with every option capstan reads: the
    framework's and those of ``applications`` (default: the installed
    ones)."""
    if applications is None:
        applications = application.load_applications()
    conf = cfg.ConfigOpts()
    groups = list_opts(applications)
    for app in applications:
        groups += app.list_opts()
    for group, opts in groups:
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)
    logging.register_options(conf)
    # alembic logs its dialect at INFO on every schema check at start-up.
    conf.set_default("default_log_levels",
                     logging.get_default_log_levels() + ["alembic=WARN"])
    _register_oslo_messaging_opts(conf)
    # [oslo_policy] (policy_file, ...) is read by the API's Enforcer; it is
    # registered here so check_values() validates it at start-up.
    for group, opts in policy_opts.list_opts():
        conf.register_opts(opts, group=group)
    return conf


class ConfigError(Exception):
    """The configuration is unusable; the message says which option and why.

    Entry points print the message on one line and exit 2.
    """


def load(conf: cfg.ConfigOpts, argv: list[str] | None,
         default_config_files: list[str] | None = None) -> None:
    """Parse ``argv`` and config files into ``conf``; raise ConfigError."""
    try:
        conf(argv, project="capstan",
             default_config_files=default_config_files or [])
        check_values(conf)
    except cfg.ConfigFilesNotFoundError as exc:
        raise ConfigError(f"config file not found: "
                          f"{', '.join(exc.config_files)}") from None
    except cfg.ConfigFileParseError as exc:
        raise ConfigError(f"cannot parse config file {exc.config_file}: "
                          f"{exc.msg}") from None
    except cfg.Error as exc:
        raise ConfigError(str(exc).strip()) from None


def check_values(conf: cfg.ConfigOpts) -> None:
    """Read every registered option once so bad values fail at start-up.

    oslo.config converts a value only when it is first read; without this
    a typo in a rarely-read option would surface hours later.
    """
    for name in list(conf):
        value = _read(conf, name, f"[DEFAULT] {name}")
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for opt in list(value):
                _read(value, opt, f"[{name}] {opt}")


def _read(group, opt: str, label: str):
    try:
        return getattr(group, opt)
    except (cfg.ConfigFileValueError, ValueError) as exc:
        raise ConfigError(f"invalid value for {label}: {exc}") from None


def manager_path_for_topic(conf: cfg.ConfigOpts, topic: str) -> str:
    """Return the dotted path of the manager configured for ``topic``.

    The topics of the installed applications have a default; any other
    topic must be configured as ``[DEFAULT] <topic>_manager`` in a config
    file.
    """
    if not topic.isidentifier():
        raise ConfigError(f"invalid topic {topic!r}: use letters, digits "
                          "and underscores")
    name = f"{topic}_manager"
    try:
        conf.register_opt(cfg.StrOpt(name))
    except cfg.DuplicateOptError:
        pass  # declared by an application, with its default
    path = getattr(conf, name)
    if not path:
        raise ConfigError(f"unknown topic {topic!r}: set [DEFAULT] {name} "
                          "to a manager class")
    return path


def ensure_state_path(conf: cfg.ConfigOpts) -> str:
    """Create state_path if it is missing and return it."""
    os.makedirs(conf.state_path, mode=0o700, exist_ok=True)
    return conf.state_path
