"""One-line descriptions of what is wrong with a paste file.

PasteDeploy reports problems in many shapes (LookupError, configparser
errors, ImportError from a factory path) and rarely names the section at
fault; :func:`describe` turns each into one line that does, so that
``api-server`` can print it and exit. Used only by ``api.factories``.
"""
from __future__ import annotations

import configparser
import re
import types
from typing import Callable

_NO_SECTION = re.compile(r"No section '([^']*)' \(prefixed by (.*?)\) found")
_APP_PREFIXES = ("app", "pipeline", "composite")


class FactoryError(Exception):
    """A paste factory rejects its section (unknown option, bad value)."""

    def __init__(self, factory: Callable, reason: str) -> None:
        super().__init__(reason)
        self.factory = factory
        self.reason = reason


def is_config_error(exc: BaseException) -> bool:
    """Whether ``exc`` means a bad paste file rather than a bug."""
    if isinstance(exc, (KeyError, IndexError)):
        return False  # LookupErrors that PasteDeploy never raises
    if isinstance(exc, AttributeError) and not isinstance(exc, ImportError):
        # Only "module has no attribute": a factory path naming nothing.
        return isinstance(getattr(exc, "obj", None), types.ModuleType)
    return True


def describe(exc: BaseException, path: str) -> str:
    """Return one line saying what is wrong and in which section."""
    if isinstance(exc, FactoryError):
        target = f"{exc.factory.__module__}:{exc.factory.__name__}"
        return _in(sections_with(path, target), exc.reason)
    if isinstance(exc, configparser.Error):
        return _parse_error(exc)
    if isinstance(exc, ImportError):
        needle = exc.name or ""
        return _in(sections_with(path, needle),
                   f"cannot import {needle!r}: {_first_line(exc)}")
    if isinstance(exc, AttributeError):
        needle = f"{exc.obj.__name__}:{exc.name}"
        return _in(sections_with(path, needle),
                   f"{needle} does not exist")
    if isinstance(exc, OSError):
        return exc.strerror or _first_line(exc)
    return _lookup_error(exc, path)


def _lookup_error(exc: BaseException, path: str) -> str:
    text = _first_line(exc)
    match = _NO_SECTION.search(text)
    if match is None:
        text = text.replace(f" found in config {path}", "").replace(
            f" in {path}", "")
        return re.sub(r"section '([^']*)'", r"[\1]", text)
    name, prefixes = match.group(1), match.group(2)
    kinds = ("filter",) if "'filter'" in prefixes else _APP_PREFIXES
    wanted = " or ".join(f"[{kind}:{name}]" for kind in kinds)
    users = sections_with(path, name, whole_word=True)
    return f"no section {wanted}" + (f" (named in {users})" if users else "")


def _parse_error(exc: configparser.Error) -> str:
    where = []
    lineno = getattr(exc, "lineno", None)
    if lineno is None and getattr(exc, "errors", None):
        lineno = exc.errors[0][0]
    if lineno is not None:
        where.append(f"line {lineno}")
    if getattr(exc, "section", None):
        where.append(f"[{exc.section}]")
    if isinstance(exc, configparser.MissingSectionHeaderError):
        reason = "an option before any [section] header"
    elif isinstance(exc, configparser.ParsingError):
        reason = "not an ini line (use 'name = value' or '[section]')"
    else:
        reason = re.sub(r"^.*?\]: ", "", _first_line(exc))
        reason = re.sub(r"^Error in file [^:]*: ", "", reason)
    return _in(" ".join(where), reason)


def sections_with(path: str, needle: str, whole_word: bool = False) -> str:
    """Return ``[a], [b]``: the sections with a value containing needle."""
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return ""
    found = []
    for section in parser.sections():
        if any(_contains(value, needle, whole_word)
               for value in parser[section].values()):
            found.append(f"[{section}]")
    return ", ".join(found)


def _contains(value: str, needle: str, whole_word: bool) -> bool:
    if whole_word:
        return needle in value.split()
    return bool(needle) and needle in value


def _in(where: str, reason: str) -> str:
    return f"{where}: {reason}" if where else reason


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
