"""APIManager: the housekeeping every API process does on a schedule.

The API has no RPC endpoint of its own; its manager exists for the periodic
tasks, which run through the same layer as the workers' (WSGIService's
ServiceTimers). Every API process runs the state report; the purge is a
singleton task, run by one API process of the deployment at a time.
"""
from __future__ import annotations

import datetime
import logging
from typing import Any

from capstan.common import records
from capstan.common.db import models
from capstan.common.db.services import Services
from capstan.common.manager import Manager
from capstan.common.periodic import periodic_task

LOG = logging.getLogger(__name__)

# Seconds between two looks at the service records. Well under the default
# service_down_time (60 s), so that a dead service is reported soon after
# it reads down.
STATE_REPORT_SPACING = 20
PURGE_SPACING = 3600


class APIManager(Manager):
    """Reports service state changes and purges old service records."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = Services(self.db)
        # service id -> whether it was up at the last report; None until the
        # first run, which only takes the baseline.
        self._was_up: dict[int, bool] | None = None

    @periodic_task(spacing=STATE_REPORT_SPACING, run_immediately=True)
    def report_service_states(self, context: Any) -> None:
        """Log each service that went down or came back up since last run.

        A service that stopped cleanly or was forced down is logged at info
        level; one that missed its heartbeats, at warning level: that is
        the one an operator has to look at.
        """
        now = self.db.now()
        rows = self.services.get_all()
        since = records.up_since(now, self.conf.service_down_time)
        is_up = {row.id: records.is_up_since(row, since) for row in rows}
        if self._was_up is not None:
            for row in rows:
                was_up = self._was_up.get(row.id)
                if was_up is not None and was_up != is_up[row.id]:
                    _log_change(row, is_up[row.id], now)
        self._was_up = is_up

    @periodic_task(spacing=PURGE_SPACING, run_immediately=True,
                   singleton=True)
    def purge_deleted_services(self, context: Any) -> None:
        """Hard-delete service records soft-deleted long enough ago.

        ``[api] deleted_service_retention_days`` says how long; 0 keeps
        them forever. Hosts that come and go (containers with generated
        names) would otherwise grow the table without bound.
        """
        days = self.conf.api.deleted_service_retention_days
        if not days:
            return
        older_than = self.db.now() - datetime.timedelta(days=days)
        count = self.services.purge_deleted(older_than)
        if count:
            LOG.info("purged %d service records deleted before %s", count,
                     older_than.isoformat(timespec="seconds"))


def _log_change(row: models.Service, up: bool,
                now: datetime.datetime) -> None:
    if up:
        LOG.info("service %s (%s on %s) is up again", row.id, row.topic,
                 row.host)
    elif row.forced_down:
        LOG.info("service %s (%s on %s) is down: forced down", row.id,
                 row.topic, row.host)
    elif row.state == "stopped":
        LOG.info("service %s (%s on %s) is down: stopped", row.id,
                 row.topic, row.host)
    else:
        LOG.warning("service %s (%s on %s) is down: last heartbeat %s",
                    row.id, row.topic, row.host, _since(row, now))


def _since(row: models.Service, now: datetime.datetime) -> str:
    if row.last_seen_up is None:
        return "never"
    return f"{int((now - row.last_seen_up).total_seconds())}s ago"
