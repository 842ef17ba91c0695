"""RPCAPI: the client of one topic, declared from its Manager's methods.

An application's rpcapi module subclasses :class:`RPCAPI` with its topic
and its method table (``{name: MethodSpec}``, or the Manager class when
importing it is cheap) and keeps one short method per RPC method::

    class ThingAPI(rpcapi.RPCAPI):
        def __init__(self, transport, **kwargs):
            super().__init__(transport, "thing", THING_METHODS, **kwargs)

        def delete_thing(self, context, *, host, thing_id, force=None):
            self.cast(context, "delete_thing", server=host,
                      thing_id=thing_id, force=force)

Each message goes at the lowest version that carries it (the method's
``since``, raised by any newer argument passed; a newer argument passed
as None is left out). When the topic's cap (:mod:`upgrade_levels`) is
lower, :class:`~capstan.common.exception.RPCVersionTooNew` is raised and
nothing is sent: an old service would drop the message, and a cast that
is lost without a word is the one failure a rolling upgrade must not
have. A caller with a fallback asks :meth:`RPCAPI.can_send` first.
"""
from __future__ import annotations

from typing import Any, Mapping

import oslo_messaging as messaging

from capstan.common import exception, rpc, rpc_versions
from capstan.common.upgrade_levels import UpgradeLevels


class RPCAPI:
    """Casts and calls to ``topic``, each at the version it needs.

    ``methods`` is a method table or a Manager class (its exposed
    methods). ``upgrade_levels`` gives the topic's cap; None sends every
    message at its own version, uncapped. ``retry`` and ``timeout`` are
    :func:`capstan.common.rpc.get_client`'s.
    """

    def __init__(self, transport: messaging.Transport, topic: str,
                 methods: Mapping[str, rpc_versions.MethodSpec] | type, *,
                 upgrade_levels: UpgradeLevels | None = None,
                 retry: int | None = None,
                 timeout: float | None = None) -> None:
        self.topic = topic
        self.methods = rpc_versions.method_table(methods)
        self.latest = rpc_versions.served_version(self.methods)
        self.upgrade_levels = upgrade_levels
        self.client = rpc.get_client(
            transport, messaging.Target(topic=topic, version=self.latest),
            retry=retry, timeout=timeout)

    def cast(self, ctxt: Any, method: str, *, server: str | None = None,
             fanout: bool = False, **kwargs: Any) -> None:
        """Cast ``method`` to one server, any server or (fanout) all."""
        client, kwargs = self._prepare(method, kwargs, server=server,
                                       fanout=fanout)
        client.cast(ctxt, method, **kwargs)

    def call(self, ctxt: Any, method: str, *, server: str | None = None,
             **kwargs: Any) -> Any:
        """Call ``method`` and return its result."""
        client, kwargs = self._prepare(method, kwargs, server=server)
        return client.call(ctxt, method, **kwargs)

    def can_send(self, method: str, **kwargs: Any) -> bool:
        """Whether ``method`` with ``kwargs`` may be sent now."""
        version, _ = self._spec(method).version_for(kwargs)
        return rpc_versions.can_send(version, self.version_cap())

    def version_cap(self) -> str | None:
        """The topic's cap now (None: no cap)."""
        if self.upgrade_levels is None:
            return None
        return self.upgrade_levels.cap(self.topic)

    def _prepare(self, method: str, kwargs: dict, **target: Any
                 ) -> tuple[rpc.Client, dict]:
        version, kwargs = self._spec(method).version_for(kwargs)
        cap = self.version_cap()
        if not rpc_versions.can_send(version, cap):
            raise exception.RPCVersionTooNew(method=method, version=version,
                                             topic=self.topic, cap=cap)
        target = {key: value for key, value in target.items() if value}
        return self.client.prepare(version=version, **target), kwargs

    def _spec(self, method: str) -> rpc_versions.MethodSpec:
        try:
            return self.methods[method]
        except KeyError:
            # A typo in an rpcapi module: a bug, never a message sent.
            raise ValueError(f"{method!r} is no RPC method of topic "
                             f"{self.topic!r}") from None
