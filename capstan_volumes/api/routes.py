"""The volume application's other REST routes under /v1 (its
``add_routes``); /v1/volumes is a declared resource (api/volumes.py)."""
from __future__ import annotations

from typing import Any

from capstan.api.router import GET
from capstan_volumes.api.scheduler_stats import SchedulerStatsController


def add_routes(mapper: Any, deps: Any, policy: Any) -> None:
    """Connect /scheduler-stats/pools on the /v1 mapper."""
    scheduler_stats = SchedulerStatsController(deps, policy)
    mapper.connect("/scheduler-stats/pools", handler=scheduler_stats.pools,
                   conditions=GET)
