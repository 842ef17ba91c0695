"""DifferentHostFilter and SameHostFilter: place by other resources' hosts.

The hints name resource ids (``scheduler_hints: {"different_host": [ids]}``).
Where those resources live comes from ``spec.resource_hosts``, which the
HostManager fills from the resource ids the hosts report (and, for ids it has
not heard of, from one database query) before any filter runs. Ids that
live nowhere (unknown, or not placed yet) do not constrain different_host;
same_host, like nova's, accepts a host holding any of the named resources.
"""
from __future__ import annotations

from capstan.worker.scheduler.filters import BaseHostFilter
from capstan.worker.scheduler.host_state import HostState, RequestSpec


class _AffinityFilter(BaseHostFilter):
    hint = ""

    def run_filter_for_spec(self, spec: RequestSpec) -> bool:
        return bool(spec.hinted_ids(self.hint))

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return self._passes(host.host, self._hosts_of_hinted(spec))

    def filter_all(self, hosts: list[HostState],
                   spec: RequestSpec) -> list[HostState]:
        named = self._hosts_of_hinted(spec)
        return [host for host in hosts if self._passes(host.host, named)]

    def _hosts_of_hinted(self, spec: RequestSpec) -> set[str]:
        located = spec.resource_hosts
        return {located[resource_id] for resource_id in spec.hinted_ids(self.hint)
                if resource_id in located}

    def _passes(self, host: str, named: set[str]) -> bool:
        raise NotImplementedError


class DifferentHostFilter(_AffinityFilter):
    """Passes hosts holding none of the ``different_host`` resources."""

    hint = "different_host"

    def _passes(self, host: str, named: set[str]) -> bool:
        return host not in named


class SameHostFilter(_AffinityFilter):
    """Passes hosts holding one of the ``same_host`` resources."""

    hint = "same_host"

    def _passes(self, host: str, named: set[str]) -> bool:
        return host in named
