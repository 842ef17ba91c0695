"""AvailabilityZoneFilter: the host must be in the zone the request names.

A host's zone is that of its zoned host aggregate, else the one it
reported (``HostState.availability_zone``).
"""
from __future__ import annotations

from capstan.worker.scheduler.filters import BaseHostFilter
from capstan.worker.scheduler.host_state import HostState, RequestSpec


class AvailabilityZoneFilter(BaseHostFilter):
    """Passes hosts whose ``availability_zone`` is the asked one.

    A request without a zone lets every host through.
    """

    def run_filter_for_spec(self, spec: RequestSpec) -> bool:
        return bool(spec.availability_zone)

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return host.availability_zone == spec.availability_zone

    def filter_all(self, hosts: list[HostState],
                   spec: RequestSpec) -> list[HostState]:
        zone = spec.availability_zone
        return [host for host in hosts if host.availability_zone == zone]
