"""An in-memory driver: for tests, and as the smallest complete driver."""
from __future__ import annotations

from capstan.common import exception
from capstan_volumes.volume.drivers.base import VolumeDriver
from capstan_volumes import exception as volume_exception


class FakeDriver(VolumeDriver):
    """Keeps volume sizes in a dict; capacity from ``capacity_gb``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.capacity_gb = int(self.options.get("capacity_gb") or 1000)
        self.volumes: dict[str, int] = {}
        self.snapshots: dict[str, str] = {}

    def get_capabilities(self) -> dict:
        used = sum(self.volumes.values())
        return {"driver": "fake", "total_capacity_gb": self.capacity_gb,
                "free_capacity_gb": self.capacity_gb - used,
                "allocated_capacity_gb": used}

    def create_volume(self, volume_id: str, size_gb: int) -> str:
        self.volumes.setdefault(volume_id, size_gb)
        return f"fake://{self.host}/{volume_id}"

    def delete_volume(self, volume_id: str) -> None:
        self.volumes.pop(volume_id, None)

    def extend_volume(self, volume_id: str, new_size_gb: int) -> None:
        if volume_id not in self.volumes:
            raise volume_exception.VolumeNotFound(volume_id=volume_id)
        if new_size_gb < self.volumes[volume_id]:
            raise exception.Invalid(f"volume {volume_id} is larger than "
                                    f"{new_size_gb} GiB; it cannot shrink")
        self.volumes[volume_id] = new_size_gb

    def list_volumes(self) -> list[str]:
        return sorted(self.volumes)

    # NOTE(capstan): no checks that the volume or snapshot is here: the
    # fake keeps nothing over a restart, and a worker restarted in a test
    # must go on with the rows it finds.
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self.snapshots[snapshot_id] = volume_id

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.snapshots.pop(snapshot_id, None)

    def create_volume_from_snapshot(self, volume_id: str, size_gb: int,
                                    snapshot_id: str) -> str:
        return self.create_volume(volume_id, size_gb)
