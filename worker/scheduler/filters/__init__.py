"""Host filters: which hosts can take a resource at all.

``[scheduler] filters`` names them, in order; a host must pass every one.
A filter sees plain :class:`~worker.scheduler.host_state.HostState`
objects and a :class:`~worker.scheduler.host_state.RequestSpec`, and does
no I/O: whatever it needs from the database the HostManager has put in the
spec before filtering starts (``spec.resource_hosts``), so that choosing a
host and consuming its capacity happen without another placement running
in between.
"""
from __future__ import annotations

import abc
from typing import Any

from capstan.worker.scheduler.host_state import HostState, RequestSpec

# The entry-point group of [scheduler] filters names; setup.py declares the
# built-in filters in it.
NAMESPACE = "capstan.scheduler.filters"


class BaseHostFilter(abc.ABC):
    """Decides, host by host, whether a host can take the request."""

    @classmethod
    def from_conf(cls, conf: Any) -> "BaseHostFilter":
        """Build from the service's config (override to read options)."""
        return cls()

    @property
    def name(self) -> str:
        return type(self).__name__

    def run_filter_for_spec(self, spec: RequestSpec) -> bool:
        """Whether this request concerns the filter at all.

        A filter with nothing to check (no hint, no zone asked for) is
        skipped, which matters at thousands of hosts.
        """
        return True

    @abc.abstractmethod
    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        """Return whether ``host`` can take the request."""

    def filter_all(self, hosts: list[HostState],
                   spec: RequestSpec) -> list[HostState]:
        """Return the hosts that pass, in their order."""
        return [host for host in hosts if self.host_passes(host, spec)]
