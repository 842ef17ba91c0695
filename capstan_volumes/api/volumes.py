"""/v1/volumes, declared for the framework's resource shape.

The schemas here validate what clients send and generate the OpenAPI
document; :class:`~capstan_volumes.api.volume_api.VolumeOperations` does
the work (the row, then the cast). Every write answers 202: the work
happens in the workers, and the volume's ``status`` tells when it is done.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from capstan.api.resource import Action, Resource, iso8601
from capstan.api.schema import (Id, NonEmptyText, Schema, Text, integer,
                                view_of)
from capstan_volumes import db as volume_db, models
from capstan_volumes.api.volume_api import VolumeOperations

MAX_SIZE_GB = 16384
STATUSES = ("creating", "available", "extending", "deleting", "error",
            "error_deleting")

Size = integer(ge=1, le=MAX_SIZE_GB, description="GiB, 1 to 16384.")
VolumeIds = Annotated[list[Id], Field(max_length=16)]
Status = Literal[STATUSES]


class SchedulerHints(Schema):
    """Where to place the volume. A hint may only name volumes the caller
    can see (400 otherwise)."""

    different_host: VolumeIds = Field(
        default=[], description="Not on a host of these volumes.")
    same_host: VolumeIds = Field(
        default=[], description="On the host of these volumes.")
    aggregate_metadata: Annotated[dict[NonEmptyText, Text], Field(
        max_length=16, description="Metadata an aggregate of the host "
        "must have.")] = {}


class VolumeCreate(Schema):
    """A new volume: its size in GiB; null means absent for the rest."""

    size: Size
    name: Text | None = None
    availability_zone: NonEmptyText | None = None
    metadata: Annotated[dict[NonEmptyText, Text],
                        Field(max_length=64)] | None = None
    scheduler_hints: SchedulerHints | None = None
    # From this snapshot, on its host; size >= the snapshot's.
    snapshot_id: Id | None = None


class Extend(Schema):
    new_size: integer(ge=1, le=MAX_SIZE_GB,
                      description="GiB, larger than the volume's size.")


# The document of a volume (DESIGN.md section 3): its columns less what
# only the scheduler reads; "meta" shows as "metadata".
Volume = view_of(
    models.Volume, exclude=("meta", "scheduler_hints", "schedule_attempts",
                            "scheduled_by", "deleted_at"),
    status=Status, metadata=dict[str, str])


def view(volume: Any) -> dict[str, Any]:
    """The JSON document of a volume (DESIGN.md section 3)."""
    return {
        "id": volume.id,
        # Stored as "" when unnamed (see VolumeOperations.create).
        "name": volume.name or None,
        "size": volume.size,
        "status": volume.status,
        "host": volume.host,
        "availability_zone": volume.availability_zone,
        "project_id": volume.project_id,
        "user_id": volume.user_id,
        "metadata": dict(volume.meta or {}),
        "export_location": volume.export_location,
        "fault": volume.fault,
        "snapshot_id": volume.snapshot_id,
        "created_at": iso8601(volume.created_at),
        "updated_at": iso8601(volume.updated_at),
    }


VOLUMES = Resource(
    name="volume", collection="volumes", rows=volume_db.VOLUMES,
    create_schema=VolumeCreate, view_schema=Volume, view=view,
    operations=VolumeOperations.from_deps,
    actions={"extend": Action(Extend, "Grow an available volume.")},
    filters={"status": Status, "name": Text, "host": Text},
    admin_filters=("host",),
    sort_keys=("created_at", "updated_at", "size", "name", "status", "id"),
    summary="Volumes: owner-or-admin; another project's answers 404.")
