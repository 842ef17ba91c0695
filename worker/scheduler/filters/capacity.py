"""CapacityFilter: the host must have room for the resource."""
from __future__ import annotations

from capstan.worker.scheduler.filters import BaseHostFilter
from capstan.worker.scheduler.host_state import HostState, RequestSpec


class CapacityFilter(BaseHostFilter):
    """Passes hosts with room for ``spec.size`` GiB.

    A thick host needs ``free >= size``. A thin-provisioned host (sparse
    resources use space only once written) may promise more than it has: it
    passes while ``provisioned + size <= total * max_over_subscription_ratio``
    and it still has some free space. Nothing is reserved.
    """

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return _fits(host, spec.size)

    def filter_all(self, hosts: list[HostState],
                   spec: RequestSpec) -> list[HostState]:
        size = spec.size
        return [host for host in hosts if _fits(host, size)]


def _fits(host: HostState, size: int) -> bool:
    if host.thin_provisioning:
        return (host.free_capacity_gb > 0
                and host.provisioned_capacity_gb + size
                <= host.total_capacity_gb * host.max_over_subscription_ratio)
    return host.free_capacity_gb >= size
