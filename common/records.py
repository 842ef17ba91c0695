"""Service records: the heartbeat every service writes and ``is_up``.

One live row per (host, topic) in ``services``. A running service bumps
``report_count`` and ``last_seen_up`` every ``report_interval``; readers
decide up or down from ``last_seen_up`` alone, so nothing but the heartbeat
(and a clean stop) ever writes those two columns.
"""
from __future__ import annotations

import datetime
import logging

from sqlalchemy import exc as sa_exc

from capstan.common import exception
from capstan.common.db import models
from capstan.common.db.api import Database
from capstan.common.db.services import Services

LOG = logging.getLogger(__name__)

# A database outage shows up as any of these; the heartbeat survives them.
DB_ERRORS = (exception.ServiceUnavailable, sa_exc.SQLAlchemyError)


def is_up(service: models.Service, *, now: datetime.datetime,
          service_down_time: float) -> bool:
    """Whether ``service`` counts as up at ``now``."""
    return is_up_since(service, up_since(now, service_down_time))


def up_since(now: datetime.datetime,
             service_down_time: float) -> datetime.datetime:
    """The oldest heartbeat that still counts as up at ``now``."""
    return now - datetime.timedelta(seconds=service_down_time)


def is_up_since(service: models.Service, since: datetime.datetime) -> bool:
    """:func:`is_up` with :func:`up_since` computed once for many records
    (a listing of 10,000 services)."""
    if service.state != "running" or service.forced_down:
        return False
    last_seen_up = service.last_seen_up
    return last_seen_up is not None and last_seen_up >= since


def crashed(rows, *, now: datetime.datetime,
            service_down_time: float) -> dict[str, datetime.datetime]:
    """The hosts among ``rows`` (service records, e.g. from
    ``Services.get_liveness``) whose service crashed, with their last
    heartbeat.

    A crashed service still reads ``running`` (it never marked itself
    stopped) but is down; one forced down by an operator counts too. A
    service that stopped cleanly finished its work first and is not
    listed. The work such a service had taken on can be taken over.
    """
    since = up_since(now, service_down_time)
    return {row.host: row.last_seen_up for row in rows
            if row.state == "running" and row.last_seen_up is not None
            and not is_up_since(row, since)}


class ServiceRecord:
    """The record of one running service and its heartbeat.

    ``services`` runs the queries; by default the real ones over ``db``.
    ``rpc_version`` is the version the service's Manager serves (None for
    a service without RPC); clients of the topic cap what they send at the
    lowest one recorded (:mod:`capstan.common.upgrade_levels`).
    """

    def __init__(self, db: Database, *, host: str, binary: str,
                 topic: str, services: Services | None = None,
                 rpc_version: str | None = None) -> None:
        self.db = db
        self.services = services if services is not None else Services(db)
        self.host = host
        self.binary = binary
        self.topic = topic
        self.rpc_version = rpc_version
        self.service_id: int | None = None
        self._failures = 0

    def register(self) -> int:
        """Load or create this service's row, mark it running and record
        its binary and RPC version (an upgraded service overwrites the old
        one's); return its id."""
        row = self.services.get_by_host_topic(self.host, self.topic)
        if row is None:
            row = self._create()
        self.service_id = row.id
        self.services.update(row.id, binary=self.binary,
                             rpc_version=self.rpc_version)
        self.services.heartbeat(row.id)
        LOG.info("service record %s: host %s, topic %s", row.id, self.host,
                 self.topic)
        return row.id

    def _create(self) -> models.Service:
        try:
            return self.services.create(self.host, self.binary, self.topic)
        except sa_exc.IntegrityError:
            # A sibling process of the same host created it first.
            row = self.services.get_by_host_topic(self.host, self.topic)
            if row is None:
                raise
            return row

    def heartbeat(self) -> bool:
        """Write one heartbeat; log and return False if the DB is away.

        Never raises for a database outage: the next tick tries again, and
        the first success after failures is logged as a recovery.
        """
        try:
            self._beat()
        except DB_ERRORS as exc:
            self._failures += 1
            if self._failures == 1:
                LOG.warning("heartbeat of %s/%s failed, will retry every "
                            "tick: %s", self.host, self.topic,
                            _one_line(exc))
            else:
                LOG.debug("heartbeat still failing (%d): %s",
                          self._failures, _one_line(exc))
            return False
        if self._failures:
            LOG.info("heartbeat of %s/%s recovered after %d failed "
                     "attempts", self.host, self.topic, self._failures)
            self._failures = 0
        return True

    def _beat(self) -> None:
        try:
            self.services.heartbeat(self.service_id)
        except exception.ServiceNotFound:
            # An operator deleted the record of a live service: come back,
            # as a service that starts would.
            LOG.warning("service record %s vanished; registering again",
                        self.service_id)
            self.register()

    def mark_stopped(self) -> None:
        """Mark the record stopped so that it reads down at once."""
        if self.service_id is None:
            return  # never registered: nothing to mark
        try:
            self.services.update(self.service_id, state="stopped")
        except DB_ERRORS as exc:
            LOG.warning("could not mark service %s stopped: %s",
                        self.service_id, _one_line(exc))
        except exception.ServiceNotFound:
            pass

    def destroy(self) -> None:
        """Delete the record (``Service.kill``)."""
        try:
            self.services.destroy(self.service_id)
        except exception.ServiceNotFound:
            pass

    def cleanup_stale(self, service_down_time: float) -> int:
        """Delete long-stopped records of this topic on other hosts."""
        older_than = self.db.now() - datetime.timedelta(
            seconds=service_down_time)
        count = self.services.cleanup_stopped(
            self.topic, keep_host=self.host, older_than=older_than)
        if count:
            LOG.info("removed %d stale stopped %s service records", count,
                     self.topic)
        return count


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
