"""The volume operations behind /v1/volumes: database first, then the cast.

Every operation is a row change by compare-and-swap followed by one RPC
cast, to the scheduler (create) or to the volume's host (delete, extend),
through the framework's :class:`~capstan.api.resource.Operations`: when a
cast cannot be delivered the row's change is undone (a create goes to
``error`` with a fault) and the client gets 503. The RPC clients are built
once per app with a finite retry (``[DEFAULT] rpc_client_retry``).
"""
from __future__ import annotations

import logging
from typing import Any

from capstan.api.deps import APIDeps
from capstan.api.operations import Dependents, Holding, Operations
from capstan.api.resource import Resource
from capstan.common import exception
from capstan.common.context import RequestContext
from capstan.common.db.api import Database
from capstan_volumes.scheduler import rpcapi as scheduler_rpcapi
from capstan_volumes.volume import rpcapi as volume_rpcapi
from capstan_volumes import db as volume_db

LOG = logging.getLogger(__name__)

DELETABLE = ("available", "error", "error_deleting")
# A volume with snapshots is not deleted (a snapshot create holds it).
SNAPSHOTS_OF = Dependents(volume_db.SNAPSHOTS, "volume_id", "snapshots")
EXTENDABLE = ("available",)
# Scheduler hints naming volume ids.
ID_HINTS = ("different_host", "same_host")


class VolumeOperations(Operations):
    """Create, delete and extend volumes."""

    def __init__(self, resource: Resource, db: Database,
                 scheduler_api: Any, volume_api: Any) -> None:
        super().__init__(resource, db)
        self.scheduler_api = scheduler_api
        self.volume_api = volume_api

    @classmethod
    def from_deps(cls, resource: Resource,
                  deps: APIDeps) -> "VolumeOperations":
        """Build the RPC clients once, with the API's finite retry and
        its version caps."""
        return cls(resource, deps.db,
                   deps.client(scheduler_rpcapi.SchedulerAPI),
                   deps.client(volume_rpcapi.VolumeAPI))

    # -- create -----------------------------------------------------------

    def create(self, context: RequestContext, request: Any) -> Any:
        """Write the row in ``creating`` without a host, then cast it to
        the scheduler. The scheduler rebuilds the same request spec from
        the row when it re-sends a lost cast."""
        scheduler_hints = _hints(request.scheduler_hints)
        self._check_hinted_volumes(context, scheduler_hints)
        holding = None
        if request.snapshot_id:
            snapshot = self.require(context, volume_db.SNAPSHOTS,
                                    request.snapshot_id, ("available",),
                                    field="volume.snapshot_id")
            if request.size < snapshot.size:
                raise exception.Invalid(f"volume.size must be at least the "
                                        f"snapshot's, {snapshot.size} GiB.")
            # On the snapshot's host: where its source volume is.
            scheduler_hints["same_host"] = [snapshot.volume_id]
            # Still available when the row is written (read-locked).
            holding = Holding(volume_db.SNAPSHOTS, snapshot.id,
                              ("available",))
        # NOTE(capstan): "" for "no name" and updated_at set from the
        # start keep the sortable columns free of NULLs, which keyset
        # pagination (the list's marker) cannot step over. The view shows
        # "" as null.
        volume = self.insert(
            context, lambda volume: self.scheduler_api.create_volume(
                context, volume_id=volume.id, request_spec={
                    "size": volume.size,
                    "availability_zone": volume.availability_zone,
                    "scheduler_hints": volume.scheduler_hints}),
            size=request.size, name=request.name or "", host=None,
            availability_zone=request.availability_zone,
            meta=dict(request.metadata or {}),
            scheduler_hints=scheduler_hints, schedule_attempts=0,
            snapshot_id=request.snapshot_id and request.snapshot_id.lower(),
            holding=holding)
        LOG.info("volume %s (%s GiB) sent to the scheduler", volume.id,
                 volume.size)
        return volume

    def _check_hinted_volumes(self, context: RequestContext,
                              hints: dict[str, Any]) -> None:
        # A hint may only name volumes the caller can see: otherwise
        # same_host would tell a project where another's volumes live.
        for hint in ID_HINTS:
            for volume_id in hints.get(hint, ()):
                self.require(context, self.rows, volume_id,
                             field=f"scheduler_hints.{hint}")

    # -- delete and extend ------------------------------------------------

    def delete(self, context: RequestContext, volume: Any) -> None:
        """Delete ``volume``: through its host, or at once if it has none.

        A volume in a transitional status raises InvalidStatus (409).
        """
        self.check_status(volume, DELETABLE)
        if volume.host is None:
            # Never placed (it failed before scheduling): no backing
            # storage anywhere, so the row goes at once.
            self.swap(volume, DELETABLE, unless=(SNAPSHOTS_OF,),
                      deleted_at=self.db.now())
            LOG.info("volume %s without a host deleted", volume.id)
            return
        self.start_delete(volume, DELETABLE, lambda: self.volume_api.
                          delete_volume(context, host=volume.host,
                                        volume_id=volume.id),
                          unless=(SNAPSHOTS_OF,))
        LOG.info("volume %s deletion sent to %s", volume.id, volume.host)

    def extend(self, context: RequestContext, volume: Any,
               args: Any) -> None:
        """Grow an ``available`` volume to ``args.new_size`` GiB."""
        new_size = args.new_size
        self.check_status(volume, EXTENDABLE)
        if new_size <= volume.size:
            raise exception.Invalid(f"new_size must be larger than the "
                                    f"volume's size, {volume.size} GiB.")
        self.swap(volume, EXTENDABLE, status="extending")
        self.send(volume, "extend", lambda: self.volume_api.extend_volume(
            context, host=volume.host, volume_id=volume.id,
            new_size=new_size),
            undo=lambda fault: volume_db.cas(
                self.db, volume.id, "extending", status="available",
                fault=fault))
        LOG.info("volume %s extension to %s GiB sent to %s", volume.id,
                 new_size, volume.host)


def _hints(hints: Any | None) -> dict[str, Any]:
    """The hints given, as stored on the row: ids lower-cased, each once."""
    stored: dict[str, Any] = {}
    if hints is None:
        return stored
    for hint in ID_HINTS:
        ids = getattr(hints, hint)
        if ids:
            stored[hint] = list(dict.fromkeys(item.lower() for item in ids))
    if hints.aggregate_metadata:
        stored["aggregate_metadata"] = dict(hints.aggregate_metadata)
    return stored
