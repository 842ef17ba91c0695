"""VolumeManager: runs a volume driver on this host."""
from __future__ import annotations

import logging
from typing import Any

from common import driver as driver_loader
from common.manager import SchedulerDependentManager
from worker.volume.drivers import base

LOG = logging.getLogger(__name__)


class VolumeManager(SchedulerDependentManager):
    """Publishes the driver's capabilities to the schedulers."""

    RPC_API_VERSION = "1.0"

    def __init__(self, *, driver: base.VolumeDriver | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.driver = driver or driver_loader.load(
            base.NAMESPACE, self.conf.volume_driver, host=self.host,
            options=_driver_options(self.conf))

    def init_host(self, service_id: int) -> None:
        self.driver.do_setup()
        LOG.info("volume driver %s ready on %s", type(self.driver).__name__,
                 self.host)

    def _refresh_capabilities(self, context: Any) -> None:
        capabilities = dict(self.driver.get_capabilities())
        capabilities["availability_zone"] = self.conf.availability_zone
        self.update_service_capabilities(capabilities)


def _driver_options(conf) -> dict:
    group = conf.file_driver
    return {"pool_path": group.pool_path, "capacity_gb": group.capacity_gb,
            "max_over_subscription_ratio": group.max_over_subscription_ratio}
