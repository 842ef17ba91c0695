"""Request and response schemas: pydantic models, one source for both the
validation of what clients send and the OpenAPI document (api/openapi.py).

A body schema subclasses :class:`Schema`: strict (a string is not a
number, a bool is not an integer) and closed (an unknown field is an
error, never ignored: a typo must not silently create something other than
what was asked). :func:`parse` turns pydantic's errors into ``Invalid``
(400) naming the field, what it accepts and what was sent.
"""
from __future__ import annotations

import datetime
from typing import Annotated, Any, TypeVar

import pydantic
import sqlalchemy as sa
from pydantic import ConfigDict, StringConstraints

from capstan.common import exception

MAX_STRING = 255
UUID_PATTERN = (r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NO_NUL = r"^[^\x00]*$"

# Text fields: at most 255 characters, no NUL (which PostgreSQL refuses).
Text = Annotated[str, StringConstraints(max_length=MAX_STRING,
                                        pattern=_NO_NUL)]
NonEmptyText = Annotated[str, StringConstraints(
    min_length=1, max_length=MAX_STRING, pattern=_NO_NUL)]


def _integral(value: Any) -> Any:
    # NOTE(capstan): JSON has one number type; 2.0 is the integer 2 for
    # JSON Schema 2020-12 (OpenAPI 3.1), which the document promises.
    # "2" and true stay errors (strict validation after this).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def integer(**constraints: Any) -> Any:
    """A JSON integer (2 or 2.0; not "2", not true) with ``constraints``
    (``pydantic.Field`` arguments: ge, le, description...)."""
    # NOTE(capstan): the Field goes before the validator: after it,
    # pydantic writes ge/le into the JSON schema as unknown keywords
    # instead of minimum/maximum.
    return Annotated[int, pydantic.Field(**constraints),
                     pydantic.BeforeValidator(_integral)]
# The ids the API hands out (str(uuid.uuid4())); any case is accepted.
Id = Annotated[str, StringConstraints(pattern=UUID_PATTERN)]
Timestamp = datetime.datetime

T = TypeVar("T", bound=pydantic.BaseModel)


class Schema(pydantic.BaseModel):
    """A request body (or part of one): strict and closed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class View(pydantic.BaseModel):
    """A response document: describes what a view returns (OpenAPI)."""

    model_config = ConfigDict(extra="forbid")


class Query(pydantic.BaseModel):
    """A query string: values arrive as text, numbers are parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# What a column of each SQL type shows as in a view (timestamps: ISO 8601).
_VIEW_TYPES = {sa.String: str, sa.Text: str, sa.Integer: int,
               sa.Boolean: bool, sa.Float: float, sa.DateTime: str,
               sa.JSON: dict}


def view_of(model: type, *, exclude: tuple[str, ...] = (),
            **fields: Any) -> type[View]:
    """The View of ``model``'s columns (by attribute name, nullable ones
    ``| None``), less ``exclude``; ``fields`` add fields or give a
    column a narrower type (an enum of statuses, say)."""
    declared: dict[str, Any] = {}
    for attr in sa.inspect(model).column_attrs:
        column = attr.columns[0]
        if attr.key in exclude:
            continue
        kind = next(python for sql, python in _VIEW_TYPES.items()
                    if isinstance(column.type, sql))
        declared[attr.key] = kind | None if column.nullable else kind
    declared.update(fields)
    return pydantic.create_model(
        model.__name__, __base__=View,
        **{name: (kind, ...) for name, kind in declared.items()})


def parse(schema: type[T], data: Any, where: str = "") -> T:
    """Validate ``data`` with ``schema``; raise Invalid naming the field
    (``where`` prefixes its path, e.g. ``item.size``)."""
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise exception.Invalid(message(exc, where)) from None


def message(exc: pydantic.ValidationError, where: str = "") -> str:
    """The first error of ``exc`` in one sentence, and how many more."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = _path([where] * bool(where) + list(first["loc"]))
    text = first["msg"]
    pattern = (first.get("ctx") or {}).get("pattern")
    if first["type"] == "extra_forbidden":
        text = "Unknown field; see the API reference for the allowed ones"
    elif pattern in _PATTERNS:
        text = _PATTERNS[pattern]
    elif first["type"] in ("model_type", "dict_type", "model_attributes_type"):
        text = f"Input should be a JSON object; got {_shown(first.get('input'))}"
    elif first["type"] != "missing":
        text = f"{text}; got {_shown(first.get('input'))}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{path or 'body'}: {text}{more}."


# What a pattern means, said instead of the pattern.
_PATTERNS = {_NO_NUL: "NUL characters are not allowed",
             UUID_PATTERN: "Input should be an id (a UUID)"}


def _path(loc: list[Any]) -> str:
    """``item.metadata[2]``; a dict key shown short, "[key]" for the
    key itself (pydantic's marker for an error in the key)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            text += " key"
        else:
            text += ("." if text else "") + (_short(part) or "''")
    return text


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
