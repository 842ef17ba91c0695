"""What every entry point does the same way: parse, log, fail on one line."""
from __future__ import annotations

import logging as std_logging
import os
import sys
from typing import NoReturn

from oslo_config import cfg
from oslo_log import log as logging

from capstan.common import config


def fail(binary: str, message: str, status: int = 2) -> int:
    """Print ``binary: message`` on one line to stderr; return ``status``."""
    print(f"{binary}: {message}", file=sys.stderr)
    return status


def setup_logging(conf: cfg.ConfigOpts) -> None:
    """Configure oslo.log; request ids appear in every context log line."""
    logging.setup(conf, "capstan")


def parse(conf: cfg.ConfigOpts, argv: list[str] | None) -> None:
    """Load config files and CLI arguments; raise config.ConfigError."""
    config.load(conf, sys.argv[1:] if argv is None else argv)


def exit_process(status: int) -> NoReturn:
    """End the process with ``status`` once its launcher has returned.

    NOTE(capstan): by then every service has stopped and marked its record.
    What can be left are RPC calls a graceful stop gave up on after
    graceful_shutdown_timeout; a normal exit would let futurist's atexit
    hook (oslo.messaging's threading executor) join them and keep the
    process alive for as long as they run. Flush the logs and go.
    """
    std_logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
