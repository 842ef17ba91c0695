"""The framework's models and the declarative base applications build on.

The framework's own tables (``services``) are created by its alembic
branch (``migrations/``); an application declares its models on
:class:`Base` with :class:`TimestampMixin` and creates them in its own
branch.

Rows are soft-deleted (``deleted_at``) so that history stays readable; the
partial unique indexes keep one *live* row per key.
"""
from __future__ import annotations

import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, text
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
