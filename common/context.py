"""The RequestContext: who asks, for which project, under which request id.

It is built once per REST request by the ``context`` paste filter, carried
across the bus by :class:`common.rpc.RequestContextSerializer`, and made the
current context on the worker side so that log lines there show the API's
request id.
"""
from __future__ import annotations

from oslo_context import context as oslo_context


class RequestContext(oslo_context.RequestContext):
    """oslo.context's context; ``is_admin`` follows the ``admin`` role."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("is_admin", "admin" in (kwargs.get("roles") or ()))
        super().__init__(*args, **kwargs)

    def to_dict(self) -> dict:
        values = super().to_dict()
        values["is_admin"] = self.is_admin
        return values

    @classmethod
    def from_dict(cls, values: dict, **kwargs) -> "RequestContext":
        kwargs.setdefault("is_admin", values.get("is_admin", False))
        return super().from_dict(values, **kwargs)


def get_admin_context(request_id: str | None = None) -> RequestContext:
    """Return a context for the service's own work (heartbeats, periodics).

    It is not made the current context, so it does not overwrite the request
    id of whatever green thread built it.
    """
    return RequestContext(user_id=None, project_id=None, roles=["admin"],
                          is_admin=True, overwrite=False,
                          request_id=request_id)
