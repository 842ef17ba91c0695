"""The volume operations behind /v1/volumes: database first, then the cast.

One hop between the controller (``api/v1/volumes.py``) and the workers:
every operation is a row change by compare-and-swap followed by one RPC
cast, to the scheduler (create) or to the volume's host (delete, extend).
The RPC clients are built once per app with a finite retry
(``[DEFAULT] rpc_client_retry``). When a cast cannot be delivered the
row's change is undone by compare-and-swap (a create goes to ``error``
with a fault) and ServiceUnavailable (503) is raised, so the API never
leaves a volume in a transitional status that no worker will finish.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Callable

from capstan.api.deps import APIDeps
from capstan.common import exception, rpc
from capstan.common.context import RequestContext
from capstan.common.db.api import Database
from capstan_volumes.api.validation import ID_HINTS
from capstan_volumes.scheduler import rpcapi as scheduler_rpcapi
from capstan_volumes.volume import rpcapi as volume_rpcapi
from capstan_volumes import exception as volume_exception
from capstan_volumes import models as volume_models
from capstan_volumes import db as volume_db

LOG = logging.getLogger(__name__)

TRANSITIONAL = ("creating", "deleting", "extending")
DELETABLE = ("available", "error", "error_deleting")
EXTENDABLE = ("available",)

NOT_SENT = "the message bus is unavailable"


class VolumeOperations:
    """Create, read, delete and extend volumes for one request context."""

    def __init__(self, db: Database, scheduler_api: Any,
                 volume_api: Any) -> None:
        self.db = db
        self.scheduler_api = scheduler_api
        self.volume_api = volume_api

    @classmethod
    def from_deps(cls, deps: APIDeps) -> "VolumeOperations":
        """Build the RPC clients once, with the API's finite retry and
        its version caps."""
        retry, levels = deps.conf.rpc_client_retry, deps.upgrade_levels
        return cls(deps.db,
                   scheduler_rpcapi.SchedulerAPI(deps.transport, retry=retry,
                                                 upgrade_levels=levels),
                   volume_rpcapi.VolumeAPI(deps.transport, retry=retry,
                                           upgrade_levels=levels))

    # -- reads ------------------------------------------------------------

    def get(self, context: RequestContext,
            volume_id: str) -> volume_models.Volume:
        """A live volume the caller may see; VolumeNotFound otherwise."""
        return volume_db.get(self.db, volume_id, project_id=_scope(context))

    def list(self, context: RequestContext, *, filters: dict[str, str],
             limit: int, marker: str | None, sort_key: str,
             sort_dir: str) -> list[volume_models.Volume]:
        """One page of the volumes the caller may see, after ``marker``."""
        project_id = _scope(context)
        if marker is not None:
            try:
                volume_db.get(self.db, marker, project_id=project_id)
            except volume_exception.VolumeNotFound:
                raise exception.Invalid(f"marker {marker} is not a volume "
                                        "you can see.") from None
        return volume_db.list_page(
            self.db, project_id=project_id, filters=filters, limit=limit,
            marker=marker, sort_key=sort_key, sort_dir=sort_dir)

    # -- create -----------------------------------------------------------

    def create(self, context: RequestContext, *, size: int,
               name: str | None, availability_zone: str | None,
               metadata: dict[str, str],
               scheduler_hints: dict[str, Any]) -> volume_models.Volume:
        """Write the row in ``creating`` without a host, then cast it to
        the scheduler. The scheduler rebuilds the same request spec from
        the row when it re-sends a lost cast."""
        self._check_hinted_volumes(context, scheduler_hints)
        now = self.db.now()
        volume = volume_db.create(
            self.db, id=str(uuid.uuid4()), size=size,
            # NOTE(capstan): "" for "no name" and updated_at set from the
            # start keep the sortable columns free of NULLs, which keyset
            # pagination (the list's marker) cannot step over. The view
            # shows "" as null.
            name=name or "", status="creating", host=None,
            availability_zone=availability_zone,
            project_id=context.project_id, user_id=context.user_id,
            meta=metadata, scheduler_hints=scheduler_hints,
            schedule_attempts=0, created_at=now, updated_at=now)
        spec = {"size": volume.size,
                "availability_zone": volume.availability_zone,
                "scheduler_hints": volume.scheduler_hints}
        self._send(volume, "create", lambda: self.scheduler_api.create_volume(
            context, volume_id=volume.id, request_spec=spec),
            undo=lambda fault: volume_db.cas_creating(
                self.db, volume.id, expected_host=None, status="error",
                fault=fault))
        LOG.info("volume %s (%s GiB) sent to the scheduler", volume.id,
                 volume.size)
        return volume

    def _check_hinted_volumes(self, context: RequestContext,
                              hints: dict[str, Any]) -> None:
        # A hint may only name volumes the caller can see: otherwise
        # same_host would tell a project where another's volumes live.
        for hint in ID_HINTS:
            for volume_id in hints.get(hint, ()):
                try:
                    self.get(context, volume_id)
                except volume_exception.VolumeNotFound:
                    raise exception.Invalid(
                        f"scheduler_hints.{hint} names {volume_id}, which "
                        "is not a volume you can see.") from None

    # -- delete and extend ------------------------------------------------

    def delete(self, context: RequestContext,
               volume: volume_models.Volume) -> None:
        """Delete ``volume``: through its host, or at once if it has none.

        A volume in a transitional status raises InvalidVolumeStatus (409).
        """
        _check_status(volume, DELETABLE)
        if volume.host is None:
            # Never placed (it failed before scheduling): no backing
            # storage anywhere, so the row goes at once.
            self._swap(volume, DELETABLE, deleted_at=self.db.now())
            LOG.info("volume %s without a host deleted", volume.id)
            return
        self._swap(volume, DELETABLE, status="deleting")
        self._send(volume, "delete", lambda: self.volume_api.delete_volume(
            context, host=volume.host, volume_id=volume.id),
            undo=lambda fault: volume_db.cas(
                self.db, volume.id, "deleting", status=volume.status,
                fault=fault))
        LOG.info("volume %s deletion sent to %s", volume.id, volume.host)

    def extend(self, context: RequestContext, volume: volume_models.Volume,
               new_size: int) -> None:
        """Grow an ``available`` volume to ``new_size`` GiB."""
        _check_status(volume, EXTENDABLE)
        if new_size <= volume.size:
            raise exception.Invalid(f"new_size must be larger than the "
                                    f"volume's size, {volume.size} GiB.")
        self._swap(volume, EXTENDABLE, status="extending")
        self._send(volume, "extend", lambda: self.volume_api.extend_volume(
            context, host=volume.host, volume_id=volume.id,
            new_size=new_size),
            undo=lambda fault: volume_db.cas(
                self.db, volume.id, "extending", status="available",
                fault=fault))
        LOG.info("volume %s extension to %s GiB sent to %s", volume.id,
                 new_size, volume.host)

    # -- helpers ----------------------------------------------------------

    def _swap(self, volume: volume_models.Volume, allowed: tuple[str, ...],
              **values: Any) -> None:
        """Set ``values`` if the status is still the one read, so that an
        undo can put exactly that status back."""
        if volume_db.cas(self.db, volume.id, volume.status, **values):
            return
        # The status moved since it was read: answer with the new one.
        current = volume_db.get(self.db, volume.id)
        if current.status in allowed:
            raise exception.Conflict(f"Volume {volume.id} changed while "
                                     "this request ran; try again.")
        raise volume_exception.InvalidVolumeStatus(
            volume_id=volume.id, status=current.status,
            expected=", ".join(allowed))

    def _send(self, volume: volume_models.Volume, action: str,
              cast: Callable[[], None],
              undo: Callable[[str], bool]) -> None:
        """Cast; if that fails, undo the row's change and re-raise.

        A broker failure becomes ServiceUnavailable (503); anything else
        is a bug, re-raised as it is (500), with the row undone all the
        same.
        """
        try:
            cast()
        except rpc.TRANSPORT_ERRORS as exc:
            LOG.warning("could not send %s of volume %s: %s: %s", action,
                        volume.id, type(exc).__name__, exc)
            undo(f"{action} failed: {NOT_SENT}")
            raise exception.ServiceUnavailable() from exc
        except Exception:
            LOG.exception("sending %s of volume %s failed", action,
                          volume.id)
            undo(f"{action} failed: the request could not be sent")
            raise


def _scope(context: RequestContext) -> str | None:
    """The project whose volumes the caller sees; None: every project."""
    if context.is_admin:
        return None
    if not context.project_id:
        # Never read "no project" as "every project".
        raise exception.Forbidden("A project is needed to use volumes.")
    return context.project_id


def _check_status(volume: volume_models.Volume,
                  allowed: tuple[str, ...]) -> None:
    if volume.status not in allowed:
        raise volume_exception.InvalidVolumeStatus(
            volume_id=volume.id, status=volume.status,
            expected=", ".join(allowed))
