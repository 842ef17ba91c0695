"""The volume topic's RPC methods: what each came in, for both sides.

The VolumeManager exposes each with ``@rpc.method(METHODS[name])``; the
clients (:mod:`capstan_volumes.volume.rpcapi`) are built from this table.

NOTE(capstan): a table in a module of its own, not read off the Manager
class: importing the Manager is cheap (drivers load through stevedore at
runtime), but the volume and scheduler Managers each build the other's
client, so each rpcapi importing its Manager would be an import cycle;
and the API would then import the worker side (the scheduler Manager
imports ``capstan.worker``) just to learn a few version numbers. A test
checks the table against what the Manager serves.

Version history:

* 1.0 - ``publish_service_capabilities`` (fanout), ``create_volume``,
  ``delete_volume``, ``extend_volume`` (casts to one host).
* 1.1 - ``create_snapshot``, ``delete_snapshot`` (casts to one host).
"""
from __future__ import annotations

from capstan.common import rpc_methods
from capstan.common.rpc import MethodSpec

TOPIC = "volume"

METHODS = {
    **rpc_methods.DEPENDENT,
    "create_volume": MethodSpec.of("1.0"),
    "delete_volume": MethodSpec.of("1.0"),
    "extend_volume": MethodSpec.of("1.0"),
    "create_snapshot": MethodSpec.of("1.1"),
    "delete_snapshot": MethodSpec.of("1.1"),
}
