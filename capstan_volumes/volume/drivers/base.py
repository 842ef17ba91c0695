"""The volume driver interface.

A driver does the host-side work for one backend; it never touches the
database (the manager does) and never spawns threads. It is built with its
own options and the host name, never from global state.
"""
from __future__ import annotations

import abc

NAMESPACE = "capstan.volume.drivers"


class VolumeDriver(abc.ABC):
    """Create, delete and extend volumes on one backend."""

    def __init__(self, *, host: str, options: dict) -> None:
        self.host = host
        self.options = options

    def do_setup(self) -> None:
        """Prepare the backend; called from the manager's init_host."""

    @abc.abstractmethod
    def get_capabilities(self) -> dict:
        """Return ``total_capacity_gb``, ``free_capacity_gb`` and friends."""

    @abc.abstractmethod
    def create_volume(self, volume_id: str, size_gb: int) -> str:
        """Create the volume; return its export location. Idempotent."""

    @abc.abstractmethod
    def delete_volume(self, volume_id: str) -> None:
        """Delete the volume; a missing volume is not an error."""

    @abc.abstractmethod
    def extend_volume(self, volume_id: str, new_size_gb: int) -> None:
        """Grow the volume to ``new_size_gb``."""

    @abc.abstractmethod
    def list_volumes(self) -> list[str]:
        """Return the ids of the volumes this backend holds."""

    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        """Copy the volume as it is now; idempotent."""
        raise NotImplementedError(f"{type(self).__name__}: no snapshots")

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete the snapshot; a missing one is not an error."""
        raise NotImplementedError(f"{type(self).__name__}: no snapshots")

    def create_volume_from_snapshot(self, volume_id: str, size_gb: int,
                                    snapshot_id: str) -> str:
        """Create the volume with the snapshot's content; idempotent."""
        raise NotImplementedError(f"{type(self).__name__}: no snapshots")
