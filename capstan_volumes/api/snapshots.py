"""/v1/snapshots: a copy of a volume, kept on the volume's host.

Created from an ``available`` volume (409 otherwise); its size is claimed
on the volume's host with the row, like a volume's; the copy is made by
that host's volume worker. A volume with snapshots cannot be deleted.
"""
from __future__ import annotations

from typing import Any, Literal

from capstan.api.operations import Operations
from capstan.api.resource import Resource
from capstan.api.schema import Id, Schema, Text, view_of
from capstan_volumes import capacity, db as volume_db, models
from capstan_volumes.volume import rpcapi as volume_rpcapi

Status = Literal["creating", "available", "deleting", "error"]


class SnapshotCreate(Schema):
    volume_id: Id
    name: Text | None = None
    description: Text | None = None


Snapshot = view_of(models.Snapshot, exclude=("host", "deleted_at"),
                   status=Status)


class SnapshotOperations(Operations):
    def __init__(self, resource: Resource, deps: Any) -> None:
        super().__init__(resource, deps.db)
        self.volume_api = deps.client(volume_rpcapi.VolumeAPI)

    def create(self, context: Any, request: SnapshotCreate) -> Any:
        volume = self.require(context, volume_db.VOLUMES, request.volume_id,
                              ("available",), field="snapshot.volume_id")
        return self.insert(
            context, lambda snapshot: self.volume_api.cast(
                context, "create_snapshot", server=snapshot.host,
                snapshot_id=snapshot.id),
            claim=(volume.host, capacity.resources(volume.size)),
            volume_id=volume.id, size=volume.size, host=volume.host,
            name=request.name, description=request.description)

    def delete(self, context: Any, snapshot: Any) -> None:
        self.start_delete(snapshot, ("available", "error"), lambda: self.
                          volume_api.cast(context, "delete_snapshot",
                                          server=snapshot.host,
                                          snapshot_id=snapshot.id))


SNAPSHOTS = Resource(
    name="snapshot", collection="snapshots", rows=volume_db.SNAPSHOTS,
    create_schema=SnapshotCreate, view_schema=Snapshot,
    operations=SnapshotOperations,
    filters={"volume_id": Id, "status": Status, "name": Text},
    sort_keys=("created_at", "updated_at", "name", "status", "id"),
    summary="Snapshots of volumes: owner-or-admin, like volumes.")
