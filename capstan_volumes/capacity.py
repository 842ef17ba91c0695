"""What a volume consumes of its host: its size, in the disk resource class
of the framework's placement claims (common/db/placement.py)."""
from __future__ import annotations

DISK_GB = "DISK_GB"


def resources(size_gb: int) -> dict[str, int]:
    """The claim of a volume (or of an extend) of ``size_gb``."""
    return {DISK_GB: int(size_gb)}
