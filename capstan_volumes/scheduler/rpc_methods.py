"""The scheduler topic's RPC methods: what each came in, for both sides.

The SchedulerManager exposes each with ``@rpc.method(METHODS[name])``;
the clients (:mod:`capstan_volumes.scheduler.rpcapi`) are built from this
table. Why a table apart from the Manager: see
:mod:`capstan_volumes.volume.rpc_methods`.

Version history:

* 1.0 - ``update_service_capabilities`` (fanout), ``get_pools`` (call),
  ``create_volume`` (cast), ``sync_volume_info`` (fanout).

The SchedulerManager also serves the framework's ``update_aggregates``
(:mod:`capstan.common.rpc_methods`, sent by the API:
``capstan.api.scheduler_rpcapi``).
"""
from __future__ import annotations

from capstan.common import rpc_methods
from capstan.common.rpc import MethodSpec

TOPIC = "scheduler"

METHODS = {
    **rpc_methods.SCHEDULER,
    "update_service_capabilities": MethodSpec.of("1.0"),
    "sync_volume_info": MethodSpec.of("1.0"),
    "create_volume": MethodSpec.of("1.0"),
    "get_pools": MethodSpec.of("1.0"),
}
