"""FilterScheduler: the placement flows behind the SchedulerManager.

Placing a volume: the HostManager picks a host (and consumes the request on
it), then one transaction compare-and-swaps the row from ``creating``
without a host to ``creating`` on that host and claims the volume's size
in that host's disk inventory (common/db/placement.py); then
``create_volume`` is cast to that host. If the swap fails, the volume was
deleted or already placed (a duplicate cast): nothing is sent. If the
claim does not fit (another scheduler filled the host first), the
transaction rolls back and the next-best host is tried, up to
``CLAIM_ATTEMPTS`` hosts. No valid host sets the volume to ``error`` with
the reason in ``fault``.

Re-sending: a volume still ``creating`` whose scheduler crashed (its
service record reads running but down) is re-sent at once, and so is one
no scheduler took yet that was created before a crashed scheduler was
found down (it may have taken the cast with it). Any other
volume still ``creating`` after ``resend_after`` seconds lost a cast
somewhere. Without a host it is placed again; with one, the cast to
that host is repeated (the worker's own compare-and-swap makes that
harmless). Each re-send is claimed by a compare-and-swap of
``schedule_attempts``, so two schedulers never both re-send; after
``max_attempts`` re-sends the volume goes to ``error``.
"""
from __future__ import annotations

import datetime
import logging
from typing import Any

from capstan.common import exception, records, rpc
from capstan.common.db.api import Database
from capstan.common.db.placement import Placement
from capstan.common.db.services import Services
from capstan.worker.scheduler.host_manager import HostManager
from capstan.worker.scheduler.host_state import RequestSpec
from capstan_volumes import capacity
from capstan_volumes import db as volume_db

LOG = logging.getLogger(__name__)

SCHEDULER_TOPIC = "scheduler"
# Hosts one placement tries when their claims do not fit; after that the
# volume gets "No valid host". Each refused claim re-reads the inventories.
CLAIM_ATTEMPTS = 5


class FilterScheduler:
    """Places volumes on hosts and re-sends the ones that got stuck."""

    def __init__(self, *, db: Database, host_manager: HostManager,
                 volume_api: Any, max_attempts: int,
                 resend_after: float,
                 placement: Placement | None = None, host: str = "",
                 service_down_time: float = 60.0,
                 services: Services | None = None) -> None:
        self.db = db
        # This scheduler's host, written on the rows it places or re-sends.
        self.host = host
        self.service_down_time = service_down_time
        self.services = services if services is not None else Services(db)
        self.placement = placement if placement is not None else Placement(db)
        self.host_manager = host_manager
        self.volume_api = volume_api
        self.max_attempts = max_attempts
        self.resend_after = resend_after

    def create_volume(self, context: Any, volume_id: str,
                      request_spec: Any) -> str | None:
        """Place a new volume; return its host, or None if not placed."""
        try:
            spec = RequestSpec.from_dict(volume_id, request_spec)
        except exception.Invalid as exc:
            self._fail(volume_id, None, f"Invalid request: {exc}")
            return None
        try:
            return self._place(context, spec)
        except exception.NoValidHost as exc:
            if not self.host_manager.has_reports():
                # NOTE(capstan): a scheduler that has just started has not
                # heard from any host yet; the re-send will place it.
                LOG.warning("volume %s waits for a re-send: no volume host "
                            "has reported yet", volume_id)
                return None
            self._fail(volume_id, None, str(exc))
            return None

    def resend_stuck_volumes(self, context: Any) -> int:
        """Re-send the volumes stuck in ``creating``; return how many."""
        now = self.db.now()
        older_than = now - datetime.timedelta(seconds=self.resend_after)
        # NOTE(capstan): a crashed scheduler may have taken casts up to
        # the moment it was found down, not only up to its last heartbeat
        # (casts arrive between two heartbeats); rows created until then
        # and still untouched may be its. A live scheduler that has one of
        # them queued finds it placed and sends nothing twice.
        down_time = datetime.timedelta(seconds=self.service_down_time)
        crashed = {host: seen + down_time for host, seen in records.crashed(
            self.services.get_liveness(SCHEDULER_TOPIC), now=now,
            service_down_time=self.service_down_time).items()}
        count = 0
        for volume in volume_db.get_stuck_creating(self.db, older_than,
                                                   crashed=crashed):
            try:
                count += self._resend(context, volume)
            except exception.ServiceUnavailable:
                raise
            except Exception:
                # One odd volume must not keep the others stuck.
                LOG.exception("re-sending volume %s failed", volume.id)
        return count

    def _place(self, context: Any, spec: RequestSpec) -> str | None:
        tried: list[str] = []
        for _attempt in range(CLAIM_ATTEMPTS):
            state = self.host_manager.select_host(context, spec,
                                                  exclude=tried)
            try:
                placed = self._claim(spec, state)
            except exception.CapacityExceeded as exc:
                LOG.info("volume %s: %s; trying another host",
                         spec.resource_id, exc)
                self.host_manager.claim_failed(state, spec)
                tried.append(state.host)
                continue
            if not placed:
                self.host_manager.release(state, spec)
                LOG.info("volume %s is no longer waiting for a host "
                         "(deleted or placed already); not sending it",
                         spec.resource_id)
                return None
            state.confirm(spec)
            LOG.info("volume %s placed on %s (%s)", spec.resource_id,
                     state.host, spec)
            self._cast_create(context, state.host, spec.resource_id)
            return state.host
        raise exception.NoValidHost(
            reason=f"the claims of {spec} did not fit on "
                   f"{', '.join(tried)}, which other placements filled")

    def _claim(self, spec: RequestSpec, state: Any) -> bool:
        """Move the row to the host and claim its size there, together;
        False if the row moved on (nothing claimed)."""
        values = {"host": state.host, "fault": None,
                  "scheduled_by": self.host}
        if state.availability_zone:
            values["availability_zone"] = state.availability_zone
        with self.placement.transaction() as connection:
            if not volume_db.cas_creating(self.db, spec.resource_id,
                                          expected_host=None,
                                          connection=connection, **values):
                return False
            self.placement.claim(connection, spec.resource_id, state.host,
                                 capacity.resources(spec.size))
        return True

    def _resend(self, context: Any, volume: Any) -> int:
        attempts = volume.schedule_attempts
        if attempts >= self.max_attempts:
            self._fail(volume.id, volume.host,
                       _give_up_fault(volume, attempts), attempts=attempts)
            return 0
        if volume.host is None and not self.host_manager.has_reports():
            return 0  # Not an attempt: nothing to place it on is known.
        if not volume_db.cas_creating(
                self.db, volume.id, expected_host=volume.host,
                attempts=attempts, schedule_attempts=attempts + 1,
                scheduled_by=self.host):
            return 0  # It moved on, or another scheduler took it.
        LOG.warning("volume %s stuck in creating (host %s); re-sending, "
                    "attempt %d of %d", volume.id, volume.host or "none",
                    attempts + 1, self.max_attempts)
        if volume.host is not None:
            self._cast_create(context, volume.host, volume.id)
            return 1
        try:
            self._place(context, RequestSpec.from_row(volume))
        except exception.NoValidHost as exc:
            # Left in creating: hosts may come back before the last try.
            volume_db.cas_creating(self.db, volume.id, expected_host=None,
                                   fault=str(exc))
        return 1

    def _cast_create(self, context: Any, host: str, volume_id: str) -> None:
        try:
            self.volume_api.create_volume(context, host=host,
                                          volume_id=volume_id)
        except rpc.TRANSPORT_ERRORS as exc:
            # The row already names the host; the re-send repeats the cast.
            LOG.warning("could not cast create_volume %s to %s, will "
                        "re-send: %s", volume_id, host, exc)

    def _fail(self, volume_id: str, host: str | None, fault: str,
              attempts: int | None = None) -> None:
        # The row's move to error and the release of what a placed volume
        # claimed happen together: a duplicate frees nothing twice.
        with self.placement.transaction() as connection:
            if not volume_db.cas_creating(
                    self.db, volume_id, expected_host=host,
                    attempts=attempts, connection=connection,
                    status="error", fault=fault):
                return
            if host is not None:
                self.placement.release(connection, volume_id)
        LOG.warning("volume %s set to error: %s", volume_id, fault)


def _give_up_fault(volume: Any, attempts: int) -> str:
    if volume.host is not None:
        return (f"The volume service on {volume.host} did not create the "
                f"volume after {attempts} re-sends")
    last = volume.fault or "the request was lost before it was scheduled"
    prefix = "No valid host was found: "
    if last.startswith(prefix):
        last = last[len(prefix):]
    return f"{prefix}gave up after {attempts} re-sends; last: {last}"
