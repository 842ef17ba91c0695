"""Volume drivers for the fault tests (tests/integration/test_faults.py).

Load them by dotted path in a volume worker's config::

    [DEFAULT]
    volume_driver = tests.integration.fault_drivers.SlowDriver

:class:`RoomyDriver` is the file driver with its capacity taken from
``[file_driver] capacity_gb`` alone: the files are sparse, so the tests can
place hundreds of 1 GiB volumes whatever the free space of the machine's
disk (which other test runs share and fill). :class:`SlowDriver` also
sleeps ``CAPSTAN_TEST_SLOW_CREATE`` seconds (environment of the worker,
default 3) in each create, logging ``slow create of <id> started`` first
and ``... done`` last, so that a test can signal a worker mid-create.
``time.sleep`` is green: the worker monkey-patches before anything else.
Test code only: production drivers never sleep.
"""
from __future__ import annotations

import logging
import os
import time

from capstan_volumes.volume.drivers.file import FileDriver

LOG = logging.getLogger(__name__)

DELAY_ENV = "CAPSTAN_TEST_SLOW_CREATE"


class RoomyDriver(FileDriver):
    """FileDriver whose total and free capacity ignore the file system."""

    def get_capabilities(self) -> dict:
        capabilities = super().get_capabilities()
        total = int(self.capacity_gb or capabilities["total_capacity_gb"])
        allocated = capabilities["allocated_capacity_gb"]
        capabilities.update(total_capacity_gb=total,
                            free_capacity_gb=max(total - allocated, 0))
        return capabilities


class SlowDriver(RoomyDriver):
    """RoomyDriver with a delay before each create."""

    def create_volume(self, volume_id: str, size_gb: int) -> str:
        delay = float(os.environ.get(DELAY_ENV, "3"))
        LOG.info("slow create of %s started (%.1fs)", volume_id, delay)
        time.sleep(delay)
        location = super().create_volume(volume_id, size_gb)
        LOG.info("slow create of %s done", volume_id)
        return location
