"""The scheduler framework's HostManager, told about volumes: candidates
are the hosts of the ``volume`` topic, their capacity is their disk
inventory, and a hinted volume no host has reported yet is looked up in
the volumes table."""
from __future__ import annotations

from capstan.worker.scheduler.host_manager import HostManager
from capstan_volumes import db as volume_db
from capstan_volumes.capacity import DISK_GB

VOLUME_TOPIC = "volume"


class VolumeHostManager(HostManager):
    topic = VOLUME_TOPIC
    # Capacity from the hosts' disk inventories, where every claim counts.
    capacity_class = DISK_GB

    def lookup_hosts(self, resource_ids: list[str]) -> dict[str, str]:
        return volume_db.get_hosts(self.db, resource_ids)
