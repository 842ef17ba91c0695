"""CapacityWeigher: prefer the host with the most free capacity."""
from __future__ import annotations

from typing import Any, Sequence

from capstan.worker.scheduler.host_state import HostState, RequestSpec
from capstan.worker.scheduler.weighers import BaseHostWeigher


class CapacityWeigher(BaseHostWeigher):
    """Weighs a host by the capacity it can still promise.

    That is ``free_capacity_gb`` on a thick host, and
    ``total * max_over_subscription_ratio - provisioned`` on a thin one
    (HostState.virtual_free_capacity_gb). A positive
    ``[scheduler] capacity_weight_multiplier`` spreads resources over the
    emptiest hosts; a negative one stacks them on the fullest.
    """

    @classmethod
    def from_conf(cls, conf: Any) -> "CapacityWeigher":
        return cls(multiplier=conf.scheduler.capacity_weight_multiplier)

    def weigh_objects(self, hosts: Sequence[HostState],
                      spec: RequestSpec) -> list[float]:
        return [host.virtual_free_capacity_gb for host in hosts]
