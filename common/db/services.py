"""The service records' queries: the framework's one resource of its own.

:class:`Services` runs them over a :class:`~common.db.api.Database`, which
gives only the engine, the sessions and the clock. Its users
(:class:`~common.records.ServiceRecord`, the scheduler's HostManager, the
``/v1/services`` controller) take one through their constructor, so a test
hands them a fake of this class instead of patching the Database.
"""
from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from capstan.common import exception
from capstan.common.db import listing, models
from capstan.common.db.api import Database


class Services:
    """Reads and writes of the ``services`` table, one live row per
    (host, topic); deleting is a soft delete until :meth:`purge_deleted`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, service_id: int) -> models.Service:
        with self.db.session() as session:
            row = session.get(models.Service, service_id)
            if row is None or row.deleted_at is not None:
                raise exception.ServiceNotFound(service_id=service_id)
            return row

    def get_by_host_topic(self, host: str,
                          topic: str) -> models.Service | None:
        with self.db.session() as session:
            return session.scalars(_live_services().where(
                models.Service.host == host,
                models.Service.topic == topic)).first()

    def get_all(self, *, host: str | None = None, binary: str | None = None,
                topic: str | None = None) -> list[tuple]:
        """Live service records as read-only named tuples: the attributes
        of models.Service but the timestamps, except ``last_seen_up``.

        NOTE(capstan): not ORM objects: at 10,000 services loading
        entities took ~100 ms of a GET /v1/services, rows ~27 ms
        (docs/benchmarks.md, benchmark 5).
        """
        filters = {"host": host, "binary": binary, "topic": topic}
        shape = tuple(key for key, value in filters.items()
                      if value is not None)
        params = {key: filters[key] for key in shape}
        with self.db.autocommit() as connection:
            return listing.plain_rows(connection.execute(
                listing.service_list_statement(shape), params))

    def create(self, host: str, binary: str, topic: str) -> models.Service:
        # NOTE(capstan): timestamps come from db.now, never from the
        # models' utcnow defaults, so that every age cleanup_stale and
        # is_up compare is on one clock (the one tests inject).
        now = self.db.now()
        row = models.Service(host=host, binary=binary, topic=topic,
                             state="running", report_count=0,
                             last_seen_up=now, created_at=now)
        with self.db.session() as session:
            session.add(row)
        return row

    def update(self, service_id: int, **values) -> models.Service:
        """Set ``values`` on a live service and return the updated row."""
        with self.db.session() as session:
            row = session.get(models.Service, service_id)
            if row is None or row.deleted_at is not None:
                raise exception.ServiceNotFound(service_id=service_id)
            values.setdefault("updated_at", self.db.now())
            for key, value in values.items():
                setattr(row, key, value)
            # Written even when equal to the old value: otherwise the
            # model's onupdate would put the real clock there instead.
            orm.attributes.flag_modified(row, "updated_at")
            return row

    def heartbeat(self, service_id: int) -> models.Service:
        """Bump report_count and last_seen_up in one UPDATE."""
        now = self.db.now()
        table = models.Service
        with self.db.session() as session:
            result = session.execute(
                sa.update(table)
                .where(table.id == service_id, table.deleted_at.is_(None))
                .values(report_count=table.report_count + 1,
                        last_seen_up=now, state="running", updated_at=now))
            if result.rowcount == 0:
                raise exception.ServiceNotFound(service_id=service_id)
            return session.get(table, service_id)

    def destroy(self, service_id: int) -> None:
        """Soft-delete a service record."""
        self.update(service_id, deleted_at=self.db.now())

    def cleanup_stopped(self, topic: str, *, keep_host: str,
                        older_than: datetime.datetime) -> int:
        """Soft-delete stopped, enabled records of ``topic`` on other hosts.

        Only records not updated since ``older_than`` go; a disabled record
        is kept, because its disabled flag is an operator's decision that a
        restart of that host must still see.
        """
        table = models.Service
        with self.db.session() as session:
            result = session.execute(
                sa.update(table)
                .where(table.topic == topic, table.host != keep_host,
                       table.state == "stopped", table.disabled.is_(False),
                       table.deleted_at.is_(None),
                       sa.func.coalesce(table.updated_at,
                                        table.created_at) < older_than)
                .values(deleted_at=self.db.now()))
            return result.rowcount

    def purge_deleted(self, older_than: datetime.datetime) -> int:
        """Hard-delete service records soft-deleted before ``older_than``."""
        table = models.Service
        with self.db.session() as session:
            result = session.execute(
                sa.delete(table)
                .where(table.deleted_at.is_not(None),
                       table.deleted_at < older_than))
            return result.rowcount

    def get_liveness(self, topic: str) -> list[sa.Row]:
        """Rows (host, disabled, state, forced_down, last_seen_up) of the
        live services of ``topic``: what ``records.is_up`` reads, several
        times cheaper than whole records at thousands of hosts."""
        table = models.Service
        query = sa.select(table.host, table.disabled, table.state,
                          table.forced_down, table.last_seen_up).where(
            table.topic == topic, table.deleted_at.is_(None))
        with self.db.session() as session:
            return list(session.execute(query))

    def get_rpc_versions(self, topic: str) -> list[sa.Row]:
        """Rows (rpc_version, state, forced_down, last_seen_up) of the live
        services of ``topic``: what the automatic upgrade level reads."""
        table = models.Service
        query = sa.select(table.rpc_version, table.state, table.forced_down,
                          table.last_seen_up).where(
            table.topic == topic, table.deleted_at.is_(None))
        with self.db.session() as session:
            return list(session.execute(query))


def _live_services() -> sa.Select:
    return sa.select(models.Service).where(
        models.Service.deleted_at.is_(None))
