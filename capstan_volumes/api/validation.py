"""Strict parsing of the /v1/volumes bodies, query strings and ids.

Each parser takes what :mod:`api.wsgi_util` read (a JSON object, a dict of
query parameters) and returns a small value object, or raises
``Invalid`` (400) naming the field and what it accepts. An unknown field
is an error, never ignored: a typo must not silently create a volume
other than the one asked for. No I/O here.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from capstan.common import exception
from capstan_volumes import exception as volume_exception

MAX_SIZE_GB = 16384
MAX_STRING = 255
MAX_METADATA_ITEMS = 64
MAX_HINT_IDS = 16
MAX_HINT_METADATA = 16
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

STATUSES = ("creating", "available", "extending", "deleting", "error",
            "error_deleting")
SORT_KEYS = ("created_at", "updated_at", "size", "name", "status", "id")
SORT_DIRS = ("asc", "desc")
# Hints naming volume ids, and the one matching host aggregates' metadata.
ID_HINTS = ("different_host", "same_host")
AGGREGATE_METADATA = "aggregate_metadata"
HINTS = ID_HINTS + (AGGREGATE_METADATA,)
CREATE_FIELDS = ("size", "name", "availability_zone", "metadata",
                 "scheduler_hints")
LIST_PARAMS = ("status", "name", "host", "limit", "marker", "sort_key",
               "sort_dir")
FILTERS = ("status", "name", "host")
ACTIONS = ("extend",)

# The form the API hands out (str(uuid.uuid4())); any case is accepted.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                   r"[0-9a-f]{12}$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class CreateRequest:
    """A valid POST /v1/volumes body."""

    size: int
    name: str | None = None
    availability_zone: str | None = None
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    # different_host/same_host: volume ids; aggregate_metadata: {str: str}.
    scheduler_hints: dict[str, Any] = dataclasses.field(
        default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ListQuery:
    """A valid GET /v1/volumes query."""

    filters: dict[str, str] = dataclasses.field(default_factory=dict)
    limit: int = DEFAULT_LIMIT
    marker: str | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"


def is_volume_id(raw: str) -> bool:
    return isinstance(raw, str) and bool(_UUID.match(raw))


def volume_id(raw: str) -> str:
    """Return the id in URL ``raw`` in canonical form.

    Not a UUID: no volume can have it, so VolumeNotFound (404), like any
    other unknown id.
    """
    if not is_volume_id(raw):
        raise volume_exception.VolumeNotFound(volume_id=raw[:64])
    return raw.lower()


def parse_create(body: dict[str, Any]) -> CreateRequest:
    """Validate ``{"volume": {"size": int, ...}}``; raise Invalid."""
    volume = _only_key(body, "volume")
    _known_fields(volume, CREATE_FIELDS, "volume")
    if "size" not in volume:
        raise exception.Invalid("volume.size is required.")
    return CreateRequest(
        size=parse_size(volume["size"], "volume.size"),
        name=_optional_string(volume.get("name"), "volume.name"),
        availability_zone=_optional_string(
            volume.get("availability_zone"), "volume.availability_zone",
            allow_empty=False),
        metadata=_metadata(volume.get("metadata")),
        scheduler_hints=_hints(volume.get("scheduler_hints")))


def parse_size(value: Any, field: str) -> int:
    """An integer number of GiB in 1..MAX_SIZE_GB (a bool is not one)."""
    if (isinstance(value, bool) or not isinstance(value, int)
            or not 1 <= value <= MAX_SIZE_GB):
        raise exception.Invalid(f"{field} must be an integer from 1 to "
                                f"{MAX_SIZE_GB} (GiB), not {_shown(value)}.")
    return value


def parse_action(body: dict[str, Any]) -> tuple[str, int]:
    """Validate ``{"extend": {"new_size": int}}``; return the action and
    its argument. Raise Invalid for any other action or field."""
    if len(body) != 1:
        raise exception.Invalid(f"Send exactly one action, one of "
                                f"{', '.join(ACTIONS)}; got keys "
                                f"{sorted(body)}.")
    action, args = next(iter(body.items()))
    if action not in ACTIONS:
        raise exception.Invalid(f"Unknown action {_shown(action)}; use one "
                                f"of {', '.join(ACTIONS)}.")
    if not isinstance(args, dict):
        raise exception.Invalid("extend must be an object "
                                "{\"new_size\": int}.")
    _known_fields(args, ("new_size",), "extend")
    if "new_size" not in args:
        raise exception.Invalid("extend.new_size is required.")
    return action, parse_size(args["new_size"], "extend.new_size")


def parse_list_query(params: dict[str, str]) -> ListQuery:
    """Validate the query of GET /v1/volumes (already checked for unknown
    and repeated parameters by ``wsgi_util.query_params``)."""
    filters = {key: params[key] for key in FILTERS if key in params}
    if "status" in filters and filters["status"] not in STATUSES:
        raise exception.Invalid(f"status must be one of "
                                f"{', '.join(STATUSES)}.")
    for key in ("name", "host"):
        if len(filters.get(key, "")) > MAX_STRING:
            raise exception.Invalid(f"{key} is longer than {MAX_STRING} "
                                    "characters.")
    marker = params.get("marker")
    if marker is not None:
        if not is_volume_id(marker):
            raise exception.Invalid("marker must be the id of a volume.")
        marker = marker.lower()
    return ListQuery(
        filters=filters, limit=_limit(params.get("limit")), marker=marker,
        sort_key=_choice(params, "sort_key", SORT_KEYS, "created_at"),
        sort_dir=_choice(params, "sort_dir", SORT_DIRS, "desc"))


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    # isdigit() alone would take "²" or "١"; int() of those differs.
    if not (raw.isascii() and raw.isdigit()) or not \
            1 <= int(raw) <= MAX_LIMIT:
        raise exception.Invalid(f"limit must be an integer from 1 to "
                                f"{MAX_LIMIT}.")
    return int(raw)


def _choice(params: dict[str, str], key: str, choices: tuple[str, ...],
            default: str) -> str:
    value = params.get(key, default)
    if value not in choices:
        raise exception.Invalid(f"{key} must be one of {', '.join(choices)}.")
    return value


def _only_key(body: dict[str, Any], key: str) -> dict[str, Any]:
    if set(body) != {key} or not isinstance(body[key], dict):
        raise exception.Invalid(f"The body must be {{\"{key}\": {{...}}}}; "
                                f"got keys {sorted(body)}.")
    return body[key]


def _known_fields(value: dict[str, Any], allowed: tuple[str, ...],
                  where: str) -> None:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise exception.Invalid(f"Unknown field(s) in {where}: "
                                f"{', '.join(unknown)}; allowed: "
                                f"{', '.join(allowed)}.")


def _optional_string(value: Any, field: str, *,
                     allow_empty: bool = True) -> str | None:
    if value is None:
        return None
    return _string(value, field, allow_empty=allow_empty)


def _string(value: Any, field: str, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise exception.Invalid(f"{field} must be a string, not "
                                f"{_shown(value)}.")
    if len(value) > MAX_STRING or (not value and not allow_empty):
        least = 0 if allow_empty else 1
        raise exception.Invalid(f"{field} must be {least} to {MAX_STRING} "
                                "characters long.")
    if "\x00" in value:
        raise exception.Invalid(f"{field} contains a NUL character.")
    return value


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise exception.Invalid("volume.metadata must be an object of "
                                "strings.")
    if len(value) > MAX_METADATA_ITEMS:
        raise exception.Invalid(f"volume.metadata has {len(value)} items; "
                                f"at most {MAX_METADATA_ITEMS} are allowed.")
    for key, item in value.items():
        _string(key, "a volume.metadata key", allow_empty=False)
        _string(item, f"volume.metadata[{key!r}]")
    return dict(value)


def _hints(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise exception.Invalid("volume.scheduler_hints must be an object.")
    _known_fields(value, HINTS, "volume.scheduler_hints")
    hints: dict[str, Any] = {}
    for hint, ids in value.items():
        field = f"volume.scheduler_hints.{hint}"
        if hint == AGGREGATE_METADATA:
            wanted = _aggregate_metadata(ids, field)
            if wanted:
                hints[hint] = wanted
            continue
        if (not isinstance(ids, list) or len(ids) > MAX_HINT_IDS
                or not all(is_volume_id(item) for item in ids)):
            raise exception.Invalid(f"{field} must be a list of at most "
                                    f"{MAX_HINT_IDS} volume ids (UUIDs).")
        if ids:
            hints[hint] = list(dict.fromkeys(item.lower() for item in ids))
    return hints


def _aggregate_metadata(value: Any, field: str) -> dict[str, str]:
    """``{key: value}`` an aggregate of the host must have."""
    if not isinstance(value, dict) or len(value) > MAX_HINT_METADATA:
        raise exception.Invalid(f"{field} must be an object of at most "
                                f"{MAX_HINT_METADATA} items mapping "
                                "strings to strings.")
    for key, item in value.items():
        _string(key, f"a {field} key", allow_empty=False)
        _string(item, f"{field}[{key[:40]!r}]")
    return dict(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
