"""SQLAlchemy models; alembic migrations under ``migrations/`` create them.

Rows are soft-deleted (``deleted_at``) so that history stays readable; the
partial unique indexes keep one *live* row per key.
"""
from __future__ import annotations

import datetime

from sqlalchemy import (JSON, Boolean, DateTime, Index, Integer, String, Text,
                        text)
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


class Volume(TimestampMixin, Base):
    """A volume of the reference application (DESIGN.md section 3)."""

    __tablename__ = "volumes"
    __table_args__ = (
        # The list's default order, newest first (migration 0002).
        Index("volumes_project_created", "project_id", "created_at", "id"),
        Index("volumes_created", "created_at", "id"),
        Index("volumes_host_status", "host", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    host: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    # "metadata" is reserved on declarative classes, hence the attribute name.
    meta: Mapped[dict] = mapped_column("metadata", JSON, nullable=False,
                                       default=dict)
    scheduler_hints: Mapped[dict] = mapped_column(JSON, nullable=False,
                                                  default=dict)
    schedule_attempts: Mapped[int] = mapped_column(Integer, nullable=False,
                                                   default=0)
    export_location: Mapped[str | None] = mapped_column(String(1024))
    fault: Mapped[str | None] = mapped_column(Text)
