"""/v1/scheduler-stats/pools: the volume hosts as the scheduler sees them.

Admin only (policy ``scheduler_stats:pools``). Each request is one RPC
call to the scheduler topic, the only call the API makes: its timeout is
short and its retry finite, so a scheduler that does not answer or a
broker that is down gives the client a 503 within seconds.
"""
from __future__ import annotations

from typing import Any

import webob
from pydantic import Field

from capstan.api import wsgi_util
from capstan.api.deps import APIDeps
from capstan.api.policy import Policy
from capstan.api.schema import View
from capstan_volumes.scheduler import rpcapi as scheduler_rpcapi

# Longest wait, in seconds, for the scheduler's answer; a smaller
# [DEFAULT] rpc_response_timeout wins. The default of that option (60 s)
# is far longer than a REST client should hang on a missing scheduler.
POOLS_TIMEOUT = 10.0


class SchedulerStatsController:
    """Read-only views of the scheduler's state."""

    def __init__(self, deps: APIDeps, policy: Policy,
                 scheduler_api: Any = None) -> None:
        self.policy = policy
        self.scheduler_api = scheduler_api or scheduler_rpcapi.SchedulerAPI(
            deps.transport, retry=deps.conf.rpc_client_retry,
            timeout=min(deps.conf.rpc_response_timeout, POOLS_TIMEOUT),
            upgrade_levels=deps.upgrade_levels)

    def pools(self, req: webob.Request) -> webob.Response:
        """GET /v1/scheduler-stats/pools"""
        context = wsgi_util.context_of(req)
        self.policy.authorize(context, "scheduler_stats:pools")
        wsgi_util.query_params(req, ())
        pools = self.scheduler_api.get_pools(context)
        return wsgi_util.json_response({"pools": [
            {"host": pool["host"], "capabilities": pool["capabilities"]}
            for pool in pools]})


class Pool(View):
    host: str
    capabilities: dict[str, Any] = Field(
        description="What the volume worker last reported (driver "
                    "specific).")


class PoolList(View):
    pools: list[Pool]


# Its OpenAPI path (api/openapi.py merges it into the document).
OPENAPI = {
    "tags": ["scheduler-stats"],
    "schemas": [PoolList],
    "paths": {"/v1/scheduler-stats/pools": {"get": {
        "tags": ["scheduler-stats"], "operationId": "listPools",
        "summary": "The volume hosts as the scheduler sees them (admin).",
        "description": "One RPC call to the scheduler; 503 within seconds "
                       "when the scheduler or the broker does not answer. "
                       "Only hosts whose service is up and enabled are "
                       "listed.",
        "responses": {
            "200": {"description": "The pools.", "headers": {
                "X-Openstack-Request-Id": {
                    "$ref": "#/components/headers/RequestId"}},
                "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/PoolList"}}}},
            **{code: {"$ref": f"#/components/responses/{name}"}
               for code, name in (("400", "BadRequest"),
                                  ("401", "Unauthorized"),
                                  ("403", "Forbidden"),
                                  ("503", "ServiceUnavailable"))}}}}},
}
