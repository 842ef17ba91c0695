"""The volume application's REST routes under /v1 (its ``add_routes``)."""
from __future__ import annotations

from typing import Any

from capstan.api.router import DELETE, GET, POST
from capstan_volumes.api.scheduler_stats import SchedulerStatsController
from capstan_volumes.api.volumes import VolumesController


def add_routes(mapper: Any, deps: Any, policy: Any) -> None:
    """Connect /volumes and /scheduler-stats/pools on the /v1 mapper."""
    # Built once per app: each holds its RPC clients for every request.
    volumes = VolumesController(deps, policy)
    scheduler_stats = SchedulerStatsController(deps, policy)
    # Volume ids are checked by the controller: a malformed one is 404
    # "volume not found", like an unknown one.
    mapper.connect("/volumes", handler=volumes.index, conditions=GET)
    mapper.connect("/volumes", handler=volumes.create, conditions=POST)
    mapper.connect("/volumes/{id}", handler=volumes.show, conditions=GET)
    mapper.connect("/volumes/{id}", handler=volumes.delete,
                   conditions=DELETE)
    mapper.connect("/volumes/{id}/action", handler=volumes.action,
                   conditions=POST)
    mapper.connect("/scheduler-stats/pools", handler=scheduler_stats.pools,
                   conditions=GET)
