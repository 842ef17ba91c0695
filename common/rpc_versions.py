"""RPC versions: which version added each method and argument, derived.

A Manager marks each RPC method with :func:`method` (re-exported as
``capstan.common.rpc.method``), saying the version that added it and,
for an argument added later, the version that added that argument::

    @rpc.method(since="1.1", arguments={"force": "1.2"})
    def delete_thing(self, context, thing_id, force=False): ...

What a Manager serves is derived, never kept by hand: the highest of those
versions (:func:`served_version`). A client sends each message at the
lowest version that carries it (:meth:`MethodSpec.version_for`), so a
service that has not been upgraded yet still understands every message it
can (nova's rule: a newer argument passed as None is dropped, and the
message goes at the older version).

NOTE(capstan): a version is ``"<major>.<minor>"``; every minor of one
major is backwards compatible, so a service at 1.3 serves a 1.1 message.
The methods of one Manager stay in one major: a new major is a new
interface (see oslo.messaging's Target versions).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Iterable, Mapping

import oslo_messaging as messaging

# What a method exposed without a version (plain ``rpc.expose``) counts as.
BASE_VERSION = "1.0"

# The attribute :func:`method` sets on the function it exposes.
SPEC_ATTRIBUTE = "capstan_rpc_method"


def parse(version: str) -> tuple[int, int]:
    """``"1.2"`` -> ``(1, 2)``; ValueError for anything else."""
    try:
        major, minor = version.split(".")
        parsed = int(major), int(minor)
    except (AttributeError, ValueError):
        raise ValueError(f"invalid RPC version {version!r}: expected "
                         "<major>.<minor>") from None
    if parsed[0] < 1 or parsed[1] < 0:
        raise ValueError(f"invalid RPC version {version!r}")
    return parsed


def can_send(version: str, cap: str | None) -> bool:
    """Whether a message at ``version`` may go to services at ``cap``.

    No cap: yes. Otherwise the same major and a minor not above the cap's.
    """
    if cap is None:
        return True
    wanted, capped = parse(version), parse(cap)
    return wanted[0] == capped[0] and wanted[1] <= capped[1]


def highest(versions: Iterable[str]) -> str:
    """The highest of ``versions`` (all of one major); TypeError if mixed."""
    parsed = sorted({parse(version) for version in versions})
    if not parsed:
        return BASE_VERSION
    majors = {major for major, _ in parsed}
    if len(majors) > 1:
        raise TypeError("RPC versions span majors "
                        f"{sorted(majors)}: one interface stays in one major")
    return "%d.%d" % parsed[-1]


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """One RPC method: the version that added it, and later arguments.

    ``arguments`` maps an argument name to the version that added it; an
    argument not named there came with the method.
    """

    since: str = BASE_VERSION
    arguments: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for _, version in self.arguments:
            if parse(version) < parse(self.since):
                raise ValueError(f"argument version {version} is older than "
                                 f"the method's {self.since}")
        highest([self.since, *dict(self.arguments).values()])

    @classmethod
    def of(cls, since: str = BASE_VERSION,
           arguments: Mapping[str, str] | None = None) -> "MethodSpec":
        return cls(since, tuple(sorted((arguments or {}).items())))

    @property
    def latest(self) -> str:
        """The version that added the last of its arguments."""
        return highest([self.since, *dict(self.arguments).values()])

    def version_for(self, kwargs: Mapping[str, Any]
                    ) -> tuple[str, dict[str, Any]]:
        """The lowest version a call with ``kwargs`` can go at, and the
        kwargs to send: a newer argument passed as None is left out."""
        newer = dict(self.arguments)
        sent, version = {}, self.since
        for name, value in kwargs.items():
            if name in newer:
                if value is None:
                    continue
                version = highest([version, newer[name]])
            sent[name] = value
        return version, sent


def method(spec: MethodSpec | str | Callable | None = None, *,
           since: str | None = None,
           arguments: Mapping[str, str] | None = None) -> Any:
    """Expose a Manager method over RPC and record its versions.

    ``@method`` alone means since 1.0; ``@method(since="1.1",
    arguments={"force": "1.2"})``; ``@method(SPEC)`` takes a
    :class:`MethodSpec` declared in a method table that the clients import
    too. Only exposed methods are callable over RPC.
    """
    if callable(spec):
        return _mark(spec, MethodSpec())
    if isinstance(spec, str):
        spec, since = None, spec
    if spec is None:
        spec = MethodSpec.of(since or BASE_VERSION, arguments)
    elif since is not None or arguments is not None:
        raise TypeError("pass a MethodSpec or since/arguments, not both")
    return functools.partial(_mark, spec=spec)


def _mark(func: Callable, spec: MethodSpec) -> Callable:
    setattr(func, SPEC_ATTRIBUTE, spec)
    return messaging.expose(func)


def methods_of(cls: type) -> dict[str, MethodSpec]:
    """Every RPC method of ``cls`` (its own and inherited), by name.

    A method exposed with plain ``rpc.expose`` counts as since 1.0.
    """
    # NOTE(capstan): the class dicts, not inspect.getmembers: that would
    # evaluate every descriptor (Manager.RPC_API_VERSION calls this). A
    # subclass's attribute hides its bases', exposed or not.
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        members.update(vars(klass))
    return {name: getattr(member, SPEC_ATTRIBUTE, MethodSpec())
            for name, member in sorted(members.items())
            if callable(member) and getattr(member, "exposed", False) is True}


def method_table(methods: Mapping[str, MethodSpec] | type
                 ) -> dict[str, MethodSpec]:
    """A method table from a table or from a class's exposed methods."""
    if isinstance(methods, type):
        return methods_of(methods)
    return dict(methods)


def served_version(methods: Mapping[str, MethodSpec] | type) -> str:
    """The version a Manager (or a method table) serves: the highest
    version of any of its methods or arguments; TypeError across majors."""
    table = method_table(methods)
    return highest(spec.latest for spec in table.values())
