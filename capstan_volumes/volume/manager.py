"""VolumeManager: runs a volume driver on this host.

Every status change is a compare-and-swap on the row
(``volume_db.cas(db, id, expected_status, ...)``), so a repeated or stale cast
changes nothing, and a restart can finish or roll back whatever was in
flight (``init_host``, before this host consumes anything).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from capstan.common import context as capstan_context
from capstan.common import driver as driver_loader
from capstan.common import rpc
from capstan.common import exception
from capstan.common.db.placement import Placement
from capstan.common.host_rows import DELETED, HostRows, fault
from capstan.common.manager import SchedulerDependentManager
from capstan.common.periodic import periodic_task
from capstan_volumes.scheduler import rpcapi as scheduler_rpcapi
from capstan_volumes.volume.rpc_methods import METHODS
from capstan_volumes.volume.drivers import base
from capstan_volumes import capacity
from capstan_volumes import db as volume_db

LOG = logging.getLogger(__name__)

# Volumes that hold no space on their host: their create failed.
NOT_PROVISIONED = ("error",)
# Least time between two capability reports sent because a volume changed.
# NOTE(capstan): one report per create cost an aggregate query here, a
# fanout cast and a message for every scheduler: ~35% of this worker's CPU
# per volume under load (docs/benchmarks.md, benchmark 3). Skipping is
# safe: the scheduler keeps its own record of a placement until a report
# stamped after it arrives, and the periodic report (every 10 s) follows.
CHANGE_REPORT_SPACING = 1.0


class VolumeManager(SchedulerDependentManager):
    """Creates, deletes and extends this host's volumes through its driver."""

    scheduler_api_class = scheduler_rpcapi.SchedulerAPI

    def __init__(self, *, driver: base.VolumeDriver | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.placement = Placement(self.db)
        self.volumes = HostRows(self.db, volume_db.VOLUMES, self.host,
                                self.placement)
        self.snapshots = HostRows(self.db, volume_db.SNAPSHOTS, self.host,
                                  self.placement)
        self.driver = driver or driver_loader.load(
            base.NAMESPACE, self.conf.volume_driver, host=self.host,
            options=_driver_options(self.conf))
        self._change_reported_at = float("-inf")

    def init_host(self, service_id: int) -> None:
        self.driver.do_setup()
        context = capstan_context.get_admin_context()
        self.volumes.resume({
            "creating": lambda volume: self.create_volume(
                context, volume.id, publish=False),
            "deleting": lambda volume: self.delete_volume(
                context, volume.id, publish=False),
            "extending": self._roll_back_extend})
        self.resume_snapshots(context, older_than=0)
        LOG.info("volume driver %s ready on %s", type(self.driver).__name__,
                 self.host)

    @rpc.method(METHODS["create_volume"])
    def create_volume(self, context: Any, volume_id: str,
                      publish: bool = True) -> None:
        """Create the backing volume, then ``creating`` -> ``available``."""
        volume = self.volumes.own(volume_id, "creating")
        if volume is None:
            return
        try:
            location = (self.driver.create_volume_from_snapshot(
                volume.id, volume.size, volume.snapshot_id)
                if volume.snapshot_id else
                self.driver.create_volume(volume.id, volume.size))
        except Exception as exc:
            self.volumes.fail(volume_id, "creating", "create", exc,
                              release=True)
        else:
            # Only if the volume is still this host's to create.
            if self.volumes.finish(volume_id, "creating",
                                   status="available",
                                   export_location=location, fault=None):
                LOG.info("volume %s available at %s", volume_id, location)
            else:
                self._drop_if_moved_on(volume_id)
        if publish:
            self._report_change(context)

    @rpc.method(METHODS["delete_volume"])
    def delete_volume(self, context: Any, volume_id: str,
                      publish: bool = True) -> None:
        """Delete the backing volume, then soft-delete the row."""
        # Gone and its capacity given back, together: a duplicate delete
        # finds the row gone and frees nothing twice.
        self.volumes.step(volume_id, "deleting", "delete",
                          lambda volume: self.driver.delete_volume(volume.id),
                          done=DELETED, failed="error_deleting")
        if publish:
            self._report_change(context)

    @rpc.method(METHODS["extend_volume"])
    def extend_volume(self, context: Any, volume_id: str,
                      new_size: int) -> None:
        """Grow the volume; on failure it stays at its old size."""
        volume = self.volumes.own(volume_id, "extending")
        if volume is None:
            return
        grow = capacity.resources(new_size - volume.size)
        try:
            with self.placement.transaction() as connection:
                self.placement.claim(connection, volume_id, self.host, grow)
        except exception.CapacityExceeded as exc:
            volume_db.cas(self.db, volume_id, "extending", status="available",
                          fault=f"extend failed: {exc}")
            LOG.warning("volume %s not extended: %s", volume_id, exc)
            return
        try:
            self.driver.extend_volume(volume.id, new_size)
        except Exception as exc:
            LOG.exception("extending volume %s failed", volume_id)
            with self.placement.transaction() as connection:
                if volume_db.cas(self.db, volume_id, "extending",
                                 connection=connection, status="available",
                                 fault=fault("extend", exc)):
                    self.placement.release(connection, volume_id, grow)
        else:
            volume_db.cas(self.db, volume_id, "extending", status="available",
                          size=new_size, fault=None)
            LOG.info("volume %s extended to %s GiB", volume_id, new_size)
        self.publish_service_capabilities(context)

    @rpc.method(METHODS["create_snapshot"])
    def create_snapshot(self, context: Any, snapshot_id: str) -> None:
        self.snapshots.step(snapshot_id, "creating", "create", lambda s: self.
                            driver.create_snapshot(s.id, s.volume_id),
                            done={"status": "available"}, release_failed=True)

    @rpc.method(METHODS["delete_snapshot"])
    def delete_snapshot(self, context: Any, snapshot_id: str) -> None:
        self.snapshots.step(snapshot_id, "deleting", "delete", lambda s: self.
                            driver.delete_snapshot(s.id), done=DELETED)

    @periodic_task(spacing=60)
    def resume_snapshots(self, context: Any, older_than: float = 60) -> None:
        """Finish the snapshots left in flight by a restart or a lost cast."""
        self.snapshots.resume({
            "creating": lambda s: self.create_snapshot(context, s.id),
            "deleting": lambda s: self.delete_snapshot(context, s.id),
        }, older_than=older_than)

    @periodic_task(spacing=60, run_immediately=True)
    def sync_volume_info(self, context: Any) -> None:
        """Send the schedulers the ids of the volumes this host holds."""
        # Ids only: a host may hold thousands of volumes.
        volume_ids = volume_db.ids_by_host(self.db, self.host)
        self.scheduler_api.sync_volume_info(context, host=self.host,
                                            volume_ids=volume_ids)

    def _report_change(self, context: Any) -> None:
        """Report capabilities after a change, at most once a spacing."""
        now = time.monotonic()
        if now - self._change_reported_at < CHANGE_REPORT_SPACING:
            return
        self._change_reported_at = now
        self.publish_service_capabilities(context)

    def _drop_if_moved_on(self, volume_id: str) -> None:
        """Remove the backing volume a create just made if the volume is
        no longer this host's to create.

        The create took long enough for the scheduler to give up on this
        host: the volume went to ``error`` after its last re-send, was
        placed on another host, or was deleted. The backing volume made
        here belongs to nothing then, and would hold space for ever. One
        that is this host's in any other status (a duplicate create here
        finished first) is the volume's and stays.
        """
        volume = volume_db.get_state(self.db, volume_id)
        if (volume is not None and volume.host == self.host
                and volume.status not in NOT_PROVISIONED):
            return
        LOG.warning("volume %s is %s by the time its create finished on %s; "
                    "removing the backing volume made here", volume_id,
                    "gone" if volume is None
                    else f"{volume.status} on {volume.host}", self.host)
        try:
            self.driver.delete_volume(volume_id)
        except Exception:  # noqa: BLE001 - a leftover, logged, not fatal
            LOG.exception("removing the backing volume of %s failed",
                          volume_id)

    def _roll_back_extend(self, volume) -> None:
        # The new size of an interrupted extend is not recorded anywhere, so
        # the row keeps its old size. NOTE(capstan): the backing file may
        # already have grown; drivers refuse to shrink (it would drop
        # data), so it is left as it is and the fault says what happened.
        with self.placement.transaction() as connection:
            if not volume_db.cas(self.db, volume.id, "extending",
                                 connection=connection, status="available",
                                 fault="extend interrupted by a restart of "
                                 f"{self.host}; size unchanged"):
                return
            # What the interrupted extend claimed, if it got that far.
            held = self.placement.allocations(volume.id).get(
                capacity.DISK_GB, (None, volume.size))[1]
            if held > volume.size:
                self.placement.release(connection, volume.id,
                                       capacity.resources(held - volume.size))

    def _refresh_capabilities(self, context: Any) -> None:
        capabilities = dict(self.driver.get_capabilities())
        # NOTE(capstan): the scheduler drops its own record of a placement
        # once a report sent after it arrives, so a report must count the
        # volumes placed here whose create is still queued. The driver
        # cannot know them; the rows can (the scheduler sets the host
        # before it casts). Without this, a burst of creates over-filled
        # the emptiest host past max_over_subscription_ratio.
        capabilities.setdefault(
            "provisioned_capacity_gb", volume_db.sum_size_by_host(
                self.db, self.host, exclude_statuses=NOT_PROVISIONED))
        capabilities.setdefault("thin_provisioning", True)
        capabilities["max_over_subscription_ratio"] = (
            self.conf.file_driver.max_over_subscription_ratio)
        capabilities["availability_zone"] = self.conf.availability_zone
        self._write_inventory(capabilities)
        self.update_service_capabilities(capabilities)

    def _write_inventory(self, capabilities: dict) -> None:
        """This host's disk inventory, against which placements claim.

        NOTE(capstan): thin (sparse) volumes may promise the capacity
        times the over-subscription ratio; thick ones only the capacity.
        """
        thin = capabilities.get("thin_provisioning") is True
        self.placement.set_inventory(
            self.host, capacity.DISK_GB,
            total=int(capabilities.get("total_capacity_gb") or 0),
            allocation_ratio=(capabilities["max_over_subscription_ratio"]
                              if thin else 1.0))


def _driver_options(conf) -> dict:
    group = conf.file_driver
    return {"pool_path": group.pool_path, "capacity_gb": group.capacity_gb,
            "max_over_subscription_ratio": group.max_over_subscription_ratio}
