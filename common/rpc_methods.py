"""The framework's own RPC methods, which application Managers inherit.

Declared here, once, for both sides: the Managers that serve them
(``SchedulerDependentManager`` in :mod:`capstan.common.manager`,
``SchedulerManagerBase`` in :mod:`capstan.worker.scheduler.manager`) take
their :class:`~capstan.common.rpc_versions.MethodSpec` from these tables,
and the clients that send them (the API's
:mod:`capstan.api.scheduler_rpcapi`, an application's rpcapi) merge the
tables into theirs. The API may not import ``capstan.worker``, so the
table cannot be read off the Manager class there.

Version history (of the framework's methods, which the application's
Manager serves within its own 1.x):

* 1.0 - ``publish_service_capabilities`` (fanout to a scheduler-dependent
  topic), ``update_aggregates`` (fanout to a scheduler topic).
"""
from __future__ import annotations

from capstan.common.rpc_versions import MethodSpec

# Served by every SchedulerDependentManager.
DEPENDENT = {
    "publish_service_capabilities": MethodSpec.of("1.0"),
}

# Served by every SchedulerManagerBase.
SCHEDULER = {
    "update_aggregates": MethodSpec.of("1.0"),
}
