"""AggregateMetadataFilter: place by the metadata of the host aggregates.

The hint ``scheduler_hints: {"aggregate_metadata": {"ssd": "true", ...}}``
passes only hosts in an aggregate whose metadata has every key with that
value (one aggregate must have them all). The aggregates come from the
HostManager (``update_aggregates``), so the filter does no I/O. A request
without the hint lets every host through.
"""
from __future__ import annotations

from capstan.worker.scheduler.filters import BaseHostFilter
from capstan.worker.scheduler.host_state import HostState, RequestSpec


class AggregateMetadataFilter(BaseHostFilter):
    """Passes hosts in an aggregate with the hinted metadata."""

    def run_filter_for_spec(self, spec: RequestSpec) -> bool:
        return bool(spec.aggregate_metadata)

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return host.in_aggregate_with(spec.aggregate_metadata)
