"""Load a driver by entry-point name or dotted path."""
from __future__ import annotations

from typing import Any

from oslo_utils import importutils
from stevedore import driver as stevedore_driver
from stevedore import exception as stevedore_exception

from capstan.common import exception


def load_class(namespace: str, name: str) -> type:
    """Return the driver class ``name`` of entry-point group ``namespace``.

    ``name`` is an entry-point name (``file``) or a dotted path
    (``mypkg.drivers.MyDriver``). Raises DriverNotFound with a one-line
    reason otherwise.
    """
    if "." in name or ":" in name:
        return _import_class(name)
    try:
        manager = stevedore_driver.DriverManager(namespace, name,
                                                 invoke_on_load=False)
    except stevedore_exception.NoMatches:
        known = ", ".join(sorted(_names(namespace))) or "none installed"
        raise exception.DriverNotFound(
            name=name, reason=f"no such driver in {namespace} "
                              f"(known: {known})") from None
    except ImportError as exc:
        raise exception.DriverNotFound(name=name, reason=str(exc)) from None
    return manager.driver


def import_class(path: str) -> type:
    """Import ``module.Class`` (or ``module:Class``).

    Raises ImportError with a one-line reason. NOTE(capstan): not
    importutils.import_class, whose error for a missing class embeds a
    whole formatted traceback in its message.
    """
    module_name, _, class_name = path.replace(":", ".").rpartition(".")
    if not module_name or not class_name:
        raise ImportError("not a dotted path module.Class")
    try:
        module = importutils.import_module(module_name)
    except ValueError as exc:
        raise ImportError(str(exc)) from None
    except ImportError as exc:
        raise ImportError(_one_line(exc)) from None
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise ImportError(f"module {module_name} has no attribute "
                          f"{class_name}") from None


def _import_class(name: str) -> type:
    try:
        return import_class(name)
    except ImportError as exc:
        raise exception.DriverNotFound(name=name, reason=str(exc)) from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load(namespace: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Load the driver class and build it with the given arguments."""
    return load_class(namespace, name)(*args, **kwargs)


def _names(namespace: str) -> list[str]:
    from importlib import metadata

    return [ep.name for ep in metadata.entry_points(group=namespace)]
