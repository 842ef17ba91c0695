"""Host aggregates: named groups of hosts that the schedulers place by.

An aggregate has a name (unique among live aggregates), an optional
availability zone, string metadata and a set of hosts; a host may be in
several aggregates, but in one availability zone at most.
:class:`Aggregates` runs the queries over a
:class:`~common.db.api.Database`; its readers get :class:`Aggregate`
values, never ORM rows, and :meth:`Aggregate.as_dict` is the plain form
the API fans out to the schedulers (which rebuild it with
:meth:`Aggregate.from_dict`).

Every change locks the aggregate's row (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite writes one at a time anyway), so that adding a host
and deleting the aggregate cannot both succeed.
"""
from __future__ import annotations

import collections
import dataclasses
import datetime
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from capstan.common import exception
from capstan.common.db import models
from capstan.common.db.api import Database


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """One live aggregate; ``hosts`` sorted."""

    id: int
    name: str
    availability_zone: str | None = None
    hosts: tuple[str, ...] = ()
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """The plain (JSON) form the schedulers receive: no timestamps."""
        return {"id": self.id, "name": self.name,
                "availability_zone": self.availability_zone,
                "hosts": list(self.hosts), "metadata": dict(self.metadata)}

    @classmethod
    def from_dict(cls, value: Any) -> "Aggregate":
        """Rebuild :meth:`as_dict`'s form; raise Invalid if malformed."""
        if not isinstance(value, dict):
            raise exception.Invalid(f"an aggregate must be an object, not "
                                    f"{type(value).__name__}")
        agg_id, name = value.get("id"), value.get("name")
        zone = value.get("availability_zone")
        hosts, metadata = value.get("hosts", []), value.get("metadata", {})
        if isinstance(agg_id, bool) or not isinstance(agg_id, int) or \
                not isinstance(name, str):
            raise exception.Invalid("an aggregate needs an integer id and "
                                    "a string name")
        if zone is not None and not isinstance(zone, str):
            raise exception.Invalid(f"aggregate {agg_id}: availability_zone "
                                    "must be a string or null")
        if not isinstance(hosts, list) or not all(
                isinstance(host, str) for host in hosts):
            raise exception.Invalid(f"aggregate {agg_id}: hosts must be a "
                                    "list of strings")
        if not isinstance(metadata, dict) or not all(
                isinstance(item, str) for item in metadata.values()):
            raise exception.Invalid(f"aggregate {agg_id}: metadata must map "
                                    "strings to strings")
        return cls(id=agg_id, name=name, availability_zone=zone,
                   hosts=tuple(sorted(set(hosts))), metadata=dict(metadata))


class Aggregates:
    """Reads and writes of ``aggregates`` and ``aggregate_hosts``.

    Deleting an aggregate is a soft delete, allowed once it has no hosts.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_all(self) -> list[Aggregate]:
        """Every live aggregate with its hosts, by id (two statements)."""
        table, members = models.Aggregate, models.AggregateHost
        with self.db.session() as session:
            rows = session.scalars(sa.select(table).where(
                table.deleted_at.is_(None)).order_by(table.id)).all()
            pairs = session.execute(
                sa.select(members.aggregate_id, members.host)
                .join(table, table.id == members.aggregate_id)
                .where(table.deleted_at.is_(None)))
            hosts: dict[int, list[str]] = collections.defaultdict(list)
            for aggregate_id, host in pairs:
                hosts[aggregate_id].append(host)
            return [_record(row, hosts.get(row.id, ())) for row in rows]

    def get(self, aggregate_id: int) -> Aggregate:
        with self.db.session() as session:
            row = _live(session, aggregate_id)
            return _record(row, _hosts(session, aggregate_id))

    def create(self, name: str, availability_zone: str | None = None,
               metadata: dict[str, str] | None = None) -> Aggregate:
        """Add an aggregate without hosts; AggregateNameExists if a live
        one has ``name``."""
        # NOTE(capstan): timestamps from db.now, like the service records,
        # so that tests on a fake clock see the times they set.
        row = models.Aggregate(name=name, availability_zone=availability_zone,
                               meta=dict(metadata or {}),
                               created_at=self.db.now())
        try:
            with self.db.session() as session:
                session.add(row)
        except sa_exc.IntegrityError:
            # The partial unique index on live names.
            raise exception.AggregateNameExists(name=name) from None
        return _record(row, ())

    def add_host(self, aggregate_id: int, host: str) -> Aggregate:
        """Put ``host`` in the aggregate.

        AggregateHostExists if it is in already; AggregateZoneConflict if
        the aggregate has a zone and the host is in another aggregate of
        another zone.
        """
        try:
            with self.db.session() as session:
                row = _live(session, aggregate_id, lock=True)
                hosts = _hosts(session, aggregate_id)
                if host in hosts:
                    raise exception.AggregateHostExists(
                        host=host, aggregate_id=aggregate_id)
                _check_zone(session, row, host)
                session.add(models.AggregateHost(
                    aggregate_id=aggregate_id, host=host,
                    created_at=self.db.now()))
                _touch(row, self.db.now())
                return _record(row, hosts + [host])
        except sa_exc.IntegrityError:
            # Another request added it between the read and the insert.
            raise exception.AggregateHostExists(
                host=host, aggregate_id=aggregate_id) from None

    def remove_host(self, aggregate_id: int, host: str) -> Aggregate:
        """Take ``host`` out; AggregateHostNotFound if it is not in."""
        members = models.AggregateHost
        with self.db.session() as session:
            row = _live(session, aggregate_id, lock=True)
            result = session.execute(sa.delete(members).where(
                members.aggregate_id == aggregate_id, members.host == host))
            if result.rowcount == 0:
                raise exception.AggregateHostNotFound(
                    host=host, aggregate_id=aggregate_id)
            _touch(row, self.db.now())
            return _record(row, _hosts(session, aggregate_id))

    def set_metadata(self, aggregate_id: int,
                     changes: dict[str, str | None], *,
                     max_items: int | None = None) -> Aggregate:
        """Merge ``changes`` into the metadata; a None value deletes its
        key. Invalid if the result would have more than ``max_items``."""
        with self.db.session() as session:
            row = _live(session, aggregate_id, lock=True)
            metadata = dict(row.meta)
            for key, value in changes.items():
                if value is None:
                    metadata.pop(key, None)
                else:
                    metadata[key] = value
            if max_items is not None and len(metadata) > max_items:
                raise exception.Invalid(
                    f"The aggregate metadata would have {len(metadata)} "
                    f"items; at most {max_items} are allowed.")
            row.meta = metadata
            _touch(row, self.db.now())
            return _record(row, _hosts(session, aggregate_id))

    def delete(self, aggregate_id: int) -> None:
        """Soft-delete an aggregate; AggregateInUse while it has hosts."""
        with self.db.session() as session:
            row = _live(session, aggregate_id, lock=True)
            if _hosts(session, aggregate_id):
                raise exception.AggregateInUse(aggregate_id=aggregate_id)
            row.deleted_at = self.db.now()


def _live(session: orm.Session, aggregate_id: int, *,
          lock: bool = False) -> models.Aggregate:
    row = session.get(models.Aggregate, aggregate_id,
                      with_for_update=lock or None)
    if row is None or row.deleted_at is not None:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    return row


def _hosts(session: orm.Session, aggregate_id: int) -> list[str]:
    members = models.AggregateHost
    return list(session.scalars(sa.select(members.host).where(
        members.aggregate_id == aggregate_id)))


def _check_zone(session: orm.Session, row: models.Aggregate,
                host: str) -> None:
    if row.availability_zone is None:
        return
    table, members = models.Aggregate, models.AggregateHost
    other = session.execute(
        sa.select(table.id, table.availability_zone)
        .join(members, members.aggregate_id == table.id)
        .where(members.host == host, table.deleted_at.is_(None),
               table.availability_zone.is_not(None),
               table.availability_zone != row.availability_zone)
        .order_by(table.id).limit(1)).first()
    if other is not None:
        raise exception.AggregateZoneConflict(host=host, zone=other[1],
                                              other_id=other[0])


def _touch(row: models.Aggregate, now: datetime.datetime) -> None:
    row.updated_at = now
    # Written even when equal to the old value: otherwise the model's
    # onupdate would put the real clock there instead of db.now's.
    orm.attributes.flag_modified(row, "updated_at")


def _record(row: models.Aggregate, hosts: Iterable[str]) -> Aggregate:
    return Aggregate(id=row.id, name=row.name,
                     availability_zone=row.availability_zone,
                     hosts=tuple(sorted(hosts)), metadata=dict(row.meta),
                     created_at=row.created_at, updated_at=row.updated_at)
