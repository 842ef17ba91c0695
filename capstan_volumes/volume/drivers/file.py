"""Volumes as sparse files, one per volume, under ``pool_path``."""
from __future__ import annotations

import contextlib
import os
import subprocess

from capstan.common import exception
from capstan_volumes.volume.drivers.base import VolumeDriver
from capstan_volumes import exception as volume_exception

GiB = 1024 ** 3
SUFFIX = ".img"
SNAPSHOT = ".snap"


class FileDriver(VolumeDriver):
    """``<pool_path>/<volume id>.img``, ``size`` GiB, sparse.

    Capacity comes from statvfs of the pool's file system, capped by
    ``capacity_gb`` when it is set; allocated capacity is the sum of the
    volumes' apparent sizes.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pool_path = self.options["pool_path"]
        self.capacity_gb = self.options.get("capacity_gb") or None

    def do_setup(self) -> None:
        os.makedirs(self.pool_path, exist_ok=True)

    def _path(self, volume_id: str, suffix: str = SUFFIX) -> str:
        if (not volume_id or os.sep in volume_id or "\0" in volume_id
                or volume_id.startswith(".")):
            raise exception.Invalid(f"bad volume id {volume_id!r}")
        return os.path.join(self.pool_path, volume_id + suffix)

    def get_capabilities(self) -> dict:
        stat = os.statvfs(self.pool_path)
        total = stat.f_blocks * stat.f_frsize // GiB
        free = stat.f_bavail * stat.f_frsize // GiB
        allocated = sum(os.path.getsize(self._path(v)) // GiB
                        for v in self.list_volumes())
        if self.capacity_gb:
            total = min(total, int(self.capacity_gb))
            free = min(free, max(total - allocated, 0))
        return {"driver": "file", "pool_path": self.pool_path,
                "total_capacity_gb": total, "free_capacity_gb": free,
                "allocated_capacity_gb": allocated}

    def create_volume(self, volume_id: str, size_gb: int) -> str:
        path = self._path(volume_id)
        # O_EXCL is not used: a re-sent create of the same id must succeed.
        with open(path, "ab") as handle:
            if handle.tell() < size_gb * GiB:
                handle.truncate(size_gb * GiB)
        return f"file://{self.host}{path}"

    def delete_volume(self, volume_id: str) -> None:
        try:
            os.unlink(self._path(volume_id))
        except FileNotFoundError:
            pass

    def extend_volume(self, volume_id: str, new_size_gb: int) -> None:
        path = self._path(volume_id)
        if not os.path.exists(path):
            raise volume_exception.VolumeNotFound(volume_id=volume_id)
        if os.path.getsize(path) > new_size_gb * GiB:
            # truncate() would silently cut the volume's data off.
            raise exception.Invalid(f"volume {volume_id} is larger than "
                                    f"{new_size_gb} GiB; it cannot shrink")
        os.truncate(path, new_size_gb * GiB)

    def list_volumes(self) -> list[str]:
        return sorted(name[:-len(SUFFIX)]
                      for name in os.listdir(self.pool_path)
                      if name.endswith(SUFFIX))

    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        _sparse_copy(self._path(volume_id), self._path(snapshot_id, SNAPSHOT))

    def delete_snapshot(self, snapshot_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(snapshot_id, SNAPSHOT))

    def create_volume_from_snapshot(self, volume_id: str, size_gb: int,
                                    snapshot_id: str) -> str:
        path = self._path(volume_id)
        _sparse_copy(self._path(snapshot_id, SNAPSHOT), path, size_gb * GiB)
        return f"file://{self.host}{path}"


def _sparse_copy(source: str, target: str, size: int = 0) -> None:
    """Copy ``source`` to ``target``, holes and zeros left unwritten, at
    least ``size`` bytes long; through a temporary name, so that a crash
    leaves no half copy under the target's."""
    subprocess.run(["cp", "--sparse=always", source, target + ".part"],
                   check=True, capture_output=True)
    if os.path.getsize(target + ".part") < size:
        os.truncate(target + ".part", size)
    os.replace(target + ".part", target)
