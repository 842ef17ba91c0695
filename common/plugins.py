"""Load a plugin class by entry-point name or by dotted path.

One loader for every pluggable part: a name without a dot or colon is
looked up in an entry-point group (through stevedore), anything else is
imported as ``module.Class`` or ``module:Class``. Failures raise
:class:`PluginNotFound`, which each caller turns into its own domain error
(``DriverNotFound``, ``Invalid`` naming the option).
"""
from __future__ import annotations

from importlib import metadata

from oslo_utils import importutils
from stevedore import driver as stevedore_driver
from stevedore import exception as stevedore_exception

__all__ = ["PluginNotFound", "import_class", "load_class", "names"]


class PluginNotFound(LookupError):
    """Raised when a name or path loads no usable class.

    ``reason`` is one line and reads after "cannot load <name>: ".
    ``known`` holds the group's entry-point names when ``name`` was an
    entry-point name that matched none of them (so a caller can list the
    choices its own way), and is None otherwise. The caller should re-raise
    its own error, naming the option the name came from.
    """

    def __init__(self, name: str, reason: str,
                 known: tuple[str, ...] | None = None) -> None:
        super().__init__(f"cannot load {name!r}: {reason}")
        self.name = name
        self.reason = reason
        self.known = known


def load_class(namespace: str, name_or_path: str, base: type | None = None,
               *, what: str = "plugin") -> type:
    """Return the class ``name_or_path`` names.

    ``name_or_path`` is an entry-point name of group ``namespace``
    (``CapacityFilter``) or a dotted path (``mypkg.filters.MyFilter``).
    With ``base``, the class must be a subclass of it. ``what`` names the
    kind of plugin in messages. Raises :class:`PluginNotFound`.
    """
    if "." in name_or_path or ":" in name_or_path:
        try:
            cls = import_class(name_or_path)
        except ImportError as exc:
            raise PluginNotFound(name_or_path, str(exc)) from None
    else:
        cls = _load_entry_point(namespace, name_or_path, what)
    if base is not None and not (isinstance(cls, type)
                                 and issubclass(cls, base)):
        raise PluginNotFound(name_or_path,
                             f"it is not a {base.__name__} subclass")
    return cls


def names(namespace: str) -> tuple[str, ...]:
    """Return the entry-point names of group ``namespace``, sorted."""
    # NOTE(capstan): read from the metadata, not through stevedore, so that
    # listing the choices imports none of them.
    return tuple(sorted({entry_point.name for entry_point
                         in metadata.entry_points(group=namespace)}))


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


def _load_entry_point(namespace: str, name: str, what: str) -> type:
    try:
        # NOTE(capstan): no stevedore warning for a missing name: the
        # PluginNotFound raised below says it, and the caller reports it.
        manager = stevedore_driver.DriverManager(
            namespace, name, invoke_on_load=False,
            on_missing_entrypoints_callback=None)
    except stevedore_exception.NoMatches:
        known = names(namespace)
        raise PluginNotFound(
            name, f"no such {what} in {namespace} "
                  f"(known: {', '.join(known) or 'none installed'})",
            known=known) from None
    except stevedore_exception.MultipleMatches:
        raise PluginNotFound(
            name, f"more than one {what} named {name} in {namespace}"
        ) from None
    except (ImportError, AttributeError) as exc:
        # The entry point names a module or attribute that does not load.
        raise PluginNotFound(name, _one_line(exc)) from None
    return manager.driver


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
