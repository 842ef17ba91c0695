"""Host weighers: which of the hosts that passed the filters is best.

Each weigher in ``[scheduler] weighers`` gives every host a raw weight; the
HostManager normalises each weigher's weights to [0, 1] across the hosts
(so weighers of different units can be summed), multiplies them by the
weigher's ``multiplier`` and adds them up. The heaviest host wins.
"""
from __future__ import annotations

import abc
from typing import Any, Sequence

from capstan.worker.scheduler.host_state import HostState, RequestSpec

# The entry-point group of [scheduler] weighers names; setup.py declares
# the built-in weighers in it.
NAMESPACE = "capstan.scheduler.weighers"


class BaseHostWeigher(abc.ABC):
    """Gives each host a raw weight: bigger is better."""

    def __init__(self, multiplier: float = 1.0) -> None:
        self.multiplier = multiplier

    @classmethod
    def from_conf(cls, conf: Any) -> "BaseHostWeigher":
        """Build from the service's config (override to read options)."""
        return cls()

    @abc.abstractmethod
    def weigh_objects(self, hosts: Sequence[HostState],
                      spec: RequestSpec) -> list[float]:
        """Return one raw weight per host, in the hosts' order."""


def normalize(weights: Sequence[float]) -> list[float]:
    """Scale ``weights`` to [0, 1]; all equal (or none) gives all zeros."""
    if not weights:
        return []
    low, high = min(weights), max(weights)
    if high == low:
        return [0.0] * len(weights)
    span = float(high - low)
    return [(weight - low) / span for weight in weights]
