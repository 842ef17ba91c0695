"""What every entry point does the same way: parse, log, fail on one line."""
from __future__ import annotations

import sys

from oslo_config import cfg
from oslo_log import log as logging

from common import config


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
