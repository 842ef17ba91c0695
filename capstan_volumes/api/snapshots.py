"""/v1/snapshots: a copy of a volume, kept on the volume's host.

Created from an ``available`` volume (409 otherwise); its size is claimed
on the volume's host with the row, like a volume's; the copy is made by
that host's volume worker. A volume with snapshots cannot be deleted.
"""
from __future__ import annotations

from typing import Any, Literal

from capstan.api.operations import Dependents, Holding, Operations
from capstan.api.resource import Resource
from capstan.api.schema import Id, Schema, Text, view_of
from capstan_volumes import capacity, db as volume_db, models
from capstan_volumes.volume import rpcapi as volume_rpcapi

Status = Literal["creating", "available", "deleting", "error"]
# A snapshot that volumes are being created from is not deleted (their
# create holds it until the row is in; the copy reads it afterwards).
VOLUMES_FROM = Dependents(volume_db.VOLUMES, "snapshot_id",
                          "volumes being created from it",
                          statuses=("creating",))


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
            # The volume stays available (undeleted) until the row is in.
            holding=Holding(volume_db.VOLUMES, volume.id, ("available",)),
            volume_id=volume.id, size=volume.size, host=volume.host,
            name=request.name, description=request.description)

    def delete(self, context: Any, snapshot: Any) -> None:
        self.start_delete(snapshot, ("available", "error"), lambda: self.
                          volume_api.cast(context, "delete_snapshot",
                                          server=snapshot.host,
                                          snapshot_id=snapshot.id),
                          unless=(VOLUMES_FROM,))


SNAPSHOTS = Resource(
    name="snapshot", collection="snapshots", rows=volume_db.SNAPSHOTS,
    create_schema=SnapshotCreate, view_schema=Snapshot,
    operations=SnapshotOperations,
    filters={"volume_id": Id, "status": Status, "name": Text},
    sort_keys=("created_at", "updated_at", "name", "status", "id"),
    summary="Snapshots of volumes: owner-or-admin, like volumes.")
