"""Load a driver by entry-point name or dotted path."""
from __future__ import annotations

from typing import Any

from capstan.common import exception, plugins


def load_class(namespace: str, name: str) -> type:
    """Return the driver class ``name`` of entry-point group ``namespace``.

    ``name`` is an entry-point name (``file``) or a dotted path
    (``mypkg.drivers.MyDriver``). Raises DriverNotFound with a one-line
    reason otherwise.
    """
    try:
        return plugins.load_class(namespace, name, what="driver")
    except plugins.PluginNotFound as exc:
        raise exception.DriverNotFound(name=name,
                                       reason=exc.reason) from None


def load(namespace: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Load the driver class and build it with the given arguments."""
    return load_class(namespace, name)(*args, **kwargs)
