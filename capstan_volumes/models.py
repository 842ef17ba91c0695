"""The application's table: volumes, on the framework's declarative base."""
from __future__ import annotations

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from capstan.common.db.models import Base, ResourceMixin


class Volume(ResourceMixin, Base):
    """A volume of the reference application (DESIGN.md section 3)."""

    __tablename__ = "volumes"
    __table_args__ = (
        # The list's default order, newest first (migration 0002).
        Index("volumes_project_created", "project_id", "created_at", "id"),
        Index("volumes_created", "created_at", "id"),
        Index("volumes_host_status", "host", "status"),
    )

    name: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    host: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    # "metadata" is reserved on declarative classes, hence the attribute name.
    meta: Mapped[dict] = mapped_column("metadata", JSON, nullable=False,
                                       default=dict)
    scheduler_hints: Mapped[dict] = mapped_column(JSON, nullable=False,
                                                  default=dict)
    schedule_attempts: Mapped[int] = mapped_column(Integer, nullable=False,
                                                   default=0)
    # The scheduler that placed or last re-sent the volume: while the
    # volume is creating, its liveness says whether to wait for it.
    scheduled_by: Mapped[str | None] = mapped_column(String(255))
    export_location: Mapped[str | None] = mapped_column(String(1024))
    snapshot_id: Mapped[str | None] = mapped_column(String(36))


class Snapshot(ResourceMixin, Base):
    """A copy of a volume as it was, kept on the volume's host."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("snapshots_created", "created_at", "id"),
                      Index("snapshots_volume", "volume_id"))

    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    volume_id: Mapped[str] = mapped_column(String(36), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
