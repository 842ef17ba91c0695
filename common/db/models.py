"""The framework's models and the declarative base applications build on.

The framework's own tables (``services``, the capacity inventories and
allocations, the host aggregates) are created by its alembic branch
(``migrations/``); an application declares its models on
:class:`Base` with :class:`TimestampMixin` and creates them in its own
branch.

Rows are soft-deleted (``deleted_at``) so that history stays readable; the
partial unique indexes keep one *live* row per key.
"""
from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index,
                        Integer, String, Text, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime.datetime:
    """Naive UTC now: every timestamp capstan stores is naive UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class TimestampMixin:
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime, onupdate=utcnow)
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class ResourceMixin(TimestampMixin):
    """The columns of every REST resource's table (what
    :class:`~capstan.common.db.rows.Rows` and the API's resource shape
    read): an id (a UUID), a status, the owner, the last fault, and the
    timestamps (``deleted_at``: a soft delete)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    fault: Mapped[str | None] = mapped_column(Text)


def resource_columns() -> list[sa.Column]:
    """New Columns of :class:`ResourceMixin`, for a migration's
    ``op.create_table(name, *resource_columns(), ...)``.

    NOTE(capstan): a migration must not read the models (they move on;
    the revision must not), so these are spelled out here once and a test
    checks them against the mixin.
    """
    return [
        sa.Column("id", String(36), primary_key=True),
        sa.Column("status", String(32), nullable=False),
        sa.Column("project_id", String(255)),
        sa.Column("user_id", String(255)),
        sa.Column("fault", Text),
        sa.Column("created_at", DateTime, nullable=False),
        sa.Column("updated_at", DateTime),
        sa.Column("deleted_at", DateTime),
    ]


class Service(TimestampMixin, Base):
    """One running (or stopped) service: a host serving a topic."""

    __tablename__ = "services"
    __table_args__ = (
        Index("services_host_topic_live", "host", "topic", unique=True,
              sqlite_where=text("deleted_at IS NULL"),
              postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    binary: Mapped[str] = mapped_column(String(255), nullable=False)
    topic: Mapped[str] = mapped_column(String(255), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False,
                                       default="running")
    report_count: Mapped[int] = mapped_column(Integer, nullable=False,
                                              default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                           default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    forced_down: Mapped[bool] = mapped_column(Boolean, nullable=False,
                                              default=False)
    last_seen_up: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # The RPC version its Manager serves, written at register(); NULL for
    # a service from before c0004 (it spoke 1.0) or one without RPC.
    rpc_version: Mapped[str | None] = mapped_column(String(16))


class ResourceInventory(Base):
    """What one host offers of one resource class, and how much is used.

    ``used`` is the sum of the host's allocations of that class, kept in
    step by :mod:`capstan.common.db.placement` in the same transaction as
    each allocation; a claim fits while ``used + amount <= total *
    allocation_ratio - reserved``.
    """

    __tablename__ = "resource_inventories"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource_class: Mapped[str] = mapped_column(String(64), primary_key=True)
    total: Mapped[int] = mapped_column(Integer, nullable=False)
    reserved: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    allocation_ratio: Mapped[float] = mapped_column(Float, nullable=False,
                                                    default=1.0)
    used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class ResourceAllocation(Base):
    """What one consumer (a resource of an application) holds on a host."""

    __tablename__ = "resource_allocations"
    __table_args__ = (
        Index("resource_allocations_host_class", "host", "resource_class"),
    )

    consumer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_class: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    amount: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False)


class Aggregate(TimestampMixin, Base):
    """A named group of hosts with an optional availability zone and
    metadata, which the schedulers place by (common/db/aggregates.py)."""

    __tablename__ = "aggregates"
    __table_args__ = (
        Index("aggregates_name_live", "name", unique=True,
              sqlite_where=text("deleted_at IS NULL"),
              postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    # "metadata" is reserved on declarative classes, hence the attribute name.
    meta: Mapped[dict] = mapped_column("metadata", JSON, nullable=False,
                                       default=dict)


class AggregateHost(Base):
    """One host in one aggregate (a host may be in several)."""

    __tablename__ = "aggregate_hosts"

    aggregate_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("aggregates.id"), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False)
