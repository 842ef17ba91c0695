"""HostState and RequestSpec: what filters and weighers look at.

Both are plain objects without I/O, so filters, weighers and their tests
build them directly: ``HostState("host1", {"total_capacity_gb": 100, ...})``
and ``RequestSpec(size=10)``.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Iterable

from capstan.common import exception
from capstan.common.db.aggregates import Aggregate

# The scheduler hints capstan understands that name lists of resource ids.
HINTS = ("different_host", "same_host")
# The hint whose {key: value} an aggregate of the host must have
# (AggregateMetadataFilter).
AGGREGATE_METADATA = "aggregate_metadata"


@dataclasses.dataclass
class RequestSpec:
    """One resource to place.

    ``resource_hosts`` maps the resource ids named by the hints to their hosts;
    the HostManager fills it before filtering (filters do no I/O).
    ``aggregate_metadata`` is the hint of that name: ``{key: value}``
    that one aggregate of the host must have (empty: no constraint).
    """

    size: int
    resource_id: str | None = None
    availability_zone: str | None = None
    scheduler_hints: dict = dataclasses.field(default_factory=dict)
    resource_hosts: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self._hint_ids = {hint: _id_list(hint, self.scheduler_hints.get(hint))
                          for hint in HINTS}
        self.aggregate_metadata = _string_map(
            AGGREGATE_METADATA, self.scheduler_hints.get(AGGREGATE_METADATA))

    @classmethod
    def from_dict(cls, resource_id: str, spec: Any) -> "RequestSpec":
        """Build from an RPC ``request_spec``; raise Invalid if malformed."""
        if not isinstance(spec, dict):
            raise exception.Invalid("request_spec must be an object")
        size = spec.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise exception.Invalid(f"size must be an integer >= 1, "
                                    f"not {size!r}")
        zone = spec.get("availability_zone")
        if zone is not None and not isinstance(zone, str):
            raise exception.Invalid(f"availability_zone must be a string, "
                                    f"not {zone!r}")
        hints = spec.get("scheduler_hints")
        hints = {} if hints is None else hints
        if not isinstance(hints, dict):
            raise exception.Invalid("scheduler_hints must be an object")
        return cls(size=size, resource_id=resource_id, availability_zone=zone,
                   scheduler_hints=hints)

    @classmethod
    def from_row(cls, row: Any) -> "RequestSpec":
        """Rebuild the request of a row (for a re-send)."""
        return cls.from_dict(row.id, {
            "size": row.size,
            "availability_zone": row.availability_zone,
            "scheduler_hints": row.scheduler_hints})

    def hinted_ids(self, hint: str) -> tuple[str, ...]:
        """The resource ids named by scheduler hint ``hint`` (maybe none)."""
        return self._hint_ids.get(hint, ())

    def all_hinted_ids(self) -> list[str]:
        return [resource_id for hint in HINTS
                for resource_id in self._hint_ids[hint]]

    def __str__(self) -> str:
        parts = [f"size {self.size} GiB"]
        if self.availability_zone:
            parts.append(f"availability zone {self.availability_zone!r}")
        for hint in HINTS:
            if self._hint_ids[hint]:
                parts.append(f"{hint} {', '.join(self._hint_ids[hint])}")
        if self.aggregate_metadata:
            pairs = ", ".join(f"{key}={value}" for key, value
                              in sorted(self.aggregate_metadata.items()))
            parts.append(f"{AGGREGATE_METADATA} {pairs}")
        return ", ".join(parts)


def _id_list(hint: str, value: Any) -> tuple[str, ...]:
    # nova accepts one id or a list; so do we.
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
            isinstance(item, str) for item in value):
        raise exception.Invalid(f"scheduler hint {hint} must be a list of "
                                f"resource ids")
    return tuple(dict.fromkeys(value))


def _string_map(hint: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(item, str) for item in value.values()):
        raise exception.Invalid(f"scheduler hint {hint} must map strings to "
                                "strings")
    return dict(value)


class HostState:
    """What the scheduler knows of one host.

    Capacity comes from the host's last report, minus the placements made
    here since that report was sent; ``resource_ids`` from the host's last
    resource list plus the placements made since that list was sent.
    Capabilities a host leaves out get defaults: provisioned capacity is
    the allocated capacity, the over-subscription ratio 1.0, thick provisioning.

    ``aggregates`` are those the host is in (the HostManager sets them);
    ``availability_zone`` is the zone of its zoned aggregate, else the one
    it reported; ``aggregate_metadata`` maps each key of its aggregates'
    metadata to the values it has there.
    """

    def __init__(self, host: str, capabilities: dict | None = None, *,
                 timestamp: float = 0.0,
                 resource_ids: Iterable[str] = ()) -> None:
        self.host = host
        self.capabilities: dict = {}
        self.availability_zone: str | None = None
        self.reported_zone: str | None = None
        self.aggregates: tuple[Aggregate, ...] = ()
        self.aggregate_metadata: dict[str, frozenset[str]] = {}
        self.total_capacity_gb: float = 0
        self.free_capacity_gb: float = 0
        self.allocated_capacity_gb: float = 0
        self.provisioned_capacity_gb: float = 0
        self.max_over_subscription_ratio = 1.0
        self.thin_provisioning = False
        self.reported_at: float | None = None
        self.synced_at: float | None = None
        # The host's inventory row of the HostManager's capacity class,
        # when it has one, and when it was read: capacity then comes from
        # the database, where every claim is counted, not from reports.
        self.inventory: Any = None
        self.inventory_read_at: float | None = None
        self.resource_ids: set[str] = set(resource_ids)
        # (placed_at, resource_id, size) of placements not yet known to be in
        # both a report and a resource list sent after them.
        self._placements: list[tuple[float, str | None, int]] = []
        if capabilities is not None:
            self.update_capabilities(capabilities, timestamp)

    @property
    def virtual_free_capacity_gb(self) -> float:
        """Capacity that can still be promised (thin: over-subscribed)."""
        if self.thin_provisioning:
            return (self.total_capacity_gb * self.max_over_subscription_ratio
                    - self.provisioned_capacity_gb)
        return self.free_capacity_gb

    def update_capabilities(self, capabilities: dict,
                            timestamp: float) -> bool:
        """Take a report sent at ``timestamp``; False if it is stale."""
        if self.reported_at is not None and timestamp < self.reported_at:
            return False
        self.reported_at = timestamp
        self.capabilities = dict(capabilities)
        self.reported_zone = capabilities.get("availability_zone")
        self._apply_zone()
        self.free_capacity_gb = _number(capabilities, "free_capacity_gb", 0)
        if self.inventory is not None:
            # NOTE(capstan): the report's sums were read before placements
            # whose rows it cannot know of; the inventory counts every claim
            # (this is the race that over-committed hosts).
            self._forget_reported_placements()
            return True
        self.total_capacity_gb = _number(capabilities, "total_capacity_gb", 0)
        self.allocated_capacity_gb = _number(
            capabilities, "allocated_capacity_gb", 0)
        self.provisioned_capacity_gb = _number(
            capabilities, "provisioned_capacity_gb",
            self.allocated_capacity_gb)
        self.max_over_subscription_ratio = max(1.0, float(_number(
            capabilities, "max_over_subscription_ratio", 1.0)))
        self.thin_provisioning = capabilities.get("thin_provisioning") is True
        # Placements the report cannot know of yet stay applied.
        for placed_at, _resource_id, size in self._placements:
            if placed_at > timestamp:
                self._apply(size)
        self._forget_reported_placements()
        return True

    def set_aggregates(self, aggregates: Iterable[Aggregate]) -> None:
        """Replace the aggregates the host is in (and so its zone)."""
        self.aggregates = tuple(sorted(aggregates, key=lambda agg: agg.id))
        metadata: dict[str, set[str]] = {}
        for aggregate in self.aggregates:
            for key, value in aggregate.metadata.items():
                metadata.setdefault(key, set()).add(value)
        self.aggregate_metadata = {key: frozenset(values)
                                   for key, values in metadata.items()}
        self._apply_zone()

    def in_aggregate_with(self, metadata: dict[str, str]) -> bool:
        """Whether one of the host's aggregates has every ``key: value``."""
        return any(all(aggregate.metadata.get(key) == value
                       for key, value in metadata.items())
                   for aggregate in self.aggregates)

    def update_inventory(self, inventory: Any, read_at: float) -> None:
        """Take the host's inventory row (``total``, ``reserved``,
        ``allocation_ratio``, ``used``), read at wall-clock ``read_at``.

        Capacity is then what a claim can still get: ``total x ratio -
        reserved - used``, less the placements made here since the read.
        """
        self.inventory, self.inventory_read_at = inventory, read_at
        self.total_capacity_gb = inventory.total
        self.max_over_subscription_ratio = float(inventory.allocation_ratio)
        self.thin_provisioning = True
        self.allocated_capacity_gb = inventory.used + inventory.reserved
        self.provisioned_capacity_gb = self.allocated_capacity_gb
        for placed_at, _resource_id, size in self._placements:
            if placed_at > read_at:
                self._apply(size)
        self._forget_reported_placements()

    def sync_resource_ids(self, resource_ids: Iterable[str], timestamp: float
                          ) -> tuple[set[str], set[str]] | None:
        """Replace the resource ids; return (removed, added), None if stale."""
        if self.synced_at is not None and timestamp < self.synced_at:
            return None
        self.synced_at = timestamp
        new = set(resource_ids)
        new.update(resource_id for placed_at, resource_id, _ in self._placements
                   if placed_at > timestamp and resource_id)
        old, self.resource_ids = self.resource_ids, new
        self._forget_reported_placements()
        return old - new, new - old

    def consume_from_request(self, spec: RequestSpec,
                             now: float | None = None) -> None:
        """Count the placement of ``spec`` here until a report shows it."""
        now = time.time() if now is None else now
        self._apply(spec.size)
        if spec.resource_id:
            self.resource_ids.add(spec.resource_id)
        self._placements.append((now, spec.resource_id, spec.size))

    def confirm(self, spec: RequestSpec, now: float | None = None) -> None:
        """Restamp the placement of ``spec`` once its row names this host.

        NOTE(capstan): a worker's report counts rows placed on it, read
        before the report is sent; a placement is only safe to forget for
        reports read after its row was written, so it dates from then.
        """
        now = time.time() if now is None else now
        for index in range(len(self._placements) - 1, -1, -1):
            _placed_at, resource_id, size = self._placements[index]
            if resource_id == spec.resource_id and size == spec.size:
                self._placements[index] = (now, resource_id, size)
                break

    def release(self, spec: RequestSpec) -> None:
        """Undo :meth:`consume_from_request` of an abandoned placement."""
        for index in range(len(self._placements) - 1, -1, -1):
            _placed_at, resource_id, size = self._placements[index]
            if resource_id == spec.resource_id and size == spec.size:
                del self._placements[index]
                self._apply(-size)
                break
        if spec.resource_id:
            self.resource_ids.discard(spec.resource_id)

    def pool(self) -> dict:
        """``{"host", "capabilities"}`` as the scheduler sees them now."""
        capabilities = dict(self.capabilities)
        capabilities.update(
            availability_zone=self.availability_zone,
            total_capacity_gb=self.total_capacity_gb,
            free_capacity_gb=self.free_capacity_gb,
            allocated_capacity_gb=self.allocated_capacity_gb,
            provisioned_capacity_gb=self.provisioned_capacity_gb,
            max_over_subscription_ratio=self.max_over_subscription_ratio,
            thin_provisioning=self.thin_provisioning)
        return {"host": self.host, "capabilities": capabilities}

    def _apply_zone(self) -> None:
        # NOTE(capstan): the API keeps a host in one zone; should two zoned
        # aggregates disagree anyway (a race), the oldest aggregate wins,
        # the same on every scheduler.
        zones = [aggregate.availability_zone for aggregate in self.aggregates
                 if aggregate.availability_zone]
        self.availability_zone = zones[0] if zones else self.reported_zone

    def _apply(self, size: int) -> None:
        self.free_capacity_gb -= size
        self.allocated_capacity_gb += size
        self.provisioned_capacity_gb += size

    def _forget_reported_placements(self) -> None:
        capacity_mark = (self.reported_at if self.inventory is None
                         else self.inventory_read_at)
        marks = [mark for mark in (capacity_mark, self.synced_at)
                 if mark is not None]
        if marks and self._placements:
            seen = min(marks)
            self._placements = [p for p in self._placements if p[0] > seen]

    def __repr__(self) -> str:
        return (f"HostState({self.host!r}, free={self.free_capacity_gb}, "
                f"total={self.total_capacity_gb}, "
                f"zone={self.availability_zone!r})")


def _number(capabilities: dict, key: str, default: float) -> float:
    # A driver may send "unknown" or nothing; neither may break a placement.
    value = capabilities.get(key)
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default
