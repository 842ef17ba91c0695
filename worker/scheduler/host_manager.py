"""HostManager: the scheduler's view of the hosts, and the choice.

The view comes from three sources, none of them a query per host:

* capability reports the workers fan out
  (``update_service_capabilities``): capacity, availability zone; a report
  older than the one held is stale and ignored;
* the ``services`` table (the topic the application names), read at most once per
  ``services_ttl`` seconds: only hosts up and enabled are candidates;
* the ids of the resources each host holds (``sync_volume_info``), plus the
  placements made here since;
* the host aggregates (``update_aggregates``: the whole set, fanned out by
  the API on each change and re-read periodically by the scheduler), which
  give a host its availability zone and the metadata filters match.

A placement is consumed into its HostState at once, so back-to-back
placements see each other; it stays applied until a report (or a resource id
sync) made after it arrives and replaces it.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import time
from typing import Any, Callable, Container, Iterable

from capstan.common import exception, plugins, records
from capstan.common.db.aggregates import Aggregate
from capstan.common.db.api import Database
from capstan.common.db.placement import Placement
from capstan.common.db.services import Services
from capstan.worker.scheduler import filters as filters_pkg
from capstan.worker.scheduler import weighers as weighers_pkg
from capstan.worker.scheduler.host_state import HostState, RequestSpec

LOG = logging.getLogger(__name__)

__all__ = ["HostManager", "HostState", "RequestSpec", "WeighedHost"]


# NOTE(capstan): reading 10,000 service rows costs far more than one
# placement may, so the up/enabled set is reused for this long. An operator
# disabling a host sees it take effect within this delay.
SERVICES_TTL = 1.0


@dataclasses.dataclass(frozen=True)
class WeighedHost:
    weight: float
    host_state: HostState


class HostManager:
    """Keeps a HostState per host; filters and weighs them per request.

    An application subclasses it to name ``topic``, the topic of the
    workers whose hosts are the candidates, and may override
    :meth:`lookup_hosts` to find the hosts of resources named by scheduler
    hints that no host has reported yet. ``services`` reads the service
    records; by default the real queries over ``db``.
    """

    topic: str = ""
    # The resource class whose inventory (common/db/placement.py) gives a
    # HostState its capacity; None keeps capacity from the reports.
    capacity_class: str | None = None

    def __init__(self, *, db: Database,
                 filters: list[filters_pkg.BaseHostFilter],
                 weighers: list[weighers_pkg.BaseHostWeigher],
                 service_down_time: float,
                 services_ttl: float = SERVICES_TTL,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 services: Services | None = None,
                 placement: Placement | None = None) -> None:
        self.db = db
        self.services = services if services is not None else Services(db)
        self.placement = placement if placement is not None else Placement(db)
        self.filters = filters
        self.weighers = weighers
        self.service_down_time = service_down_time
        self.services_ttl = services_ttl
        self._clock = clock
        # Placement times are compared with the senders' report times,
        # which are wall-clock seconds (SchedulerAPI adds time.time()).
        self._wall_clock = wall_clock
        self._states: dict[str, HostState] = {}
        self._resource_host: dict[str, str] = {}
        self._up_hosts: frozenset[str] = frozenset()
        self._services_read_at: float | None = None
        self._services_reading = False
        # The candidates (up, enabled, reported), rebuilt only when the
        # service set changes or a host reports for the first time.
        self._candidates: list[HostState] | None = None
        self._heard_from_hosts = False
        self.aggregates: list[Aggregate] = []
        self._host_aggregates: dict[str, list[Aggregate]] = {}

    @classmethod
    def from_conf(cls, conf: Any, db: Database,
                  **kwargs: Any) -> "HostManager":
        """Build from ``[scheduler]``; a bad filter or weigher name raises
        :class:`~common.exception.Invalid` naming the option. ``kwargs``
        go to the constructor (``services_ttl``, clocks, ``services``)."""
        options = conf.scheduler
        filter_classes = _load_classes(
            "filters", options.filters, filters_pkg.NAMESPACE,
            filters_pkg.BaseHostFilter)
        weigher_classes = _load_classes(
            "weighers", options.weighers, weighers_pkg.NAMESPACE,
            weighers_pkg.BaseHostWeigher)
        return cls(db=db,
                   filters=[c.from_conf(conf) for c in filter_classes],
                   weighers=[c.from_conf(conf) for c in weigher_classes],
                   service_down_time=conf.service_down_time, **kwargs)

    # -- what the workers send (cheap: no I/O) --------------------

    def update_service_capabilities(self, host: str, capabilities: dict,
                                    timestamp: float) -> bool:
        """Take a host's report; return False if it was stale."""
        state = self._state(host)
        first = state.reported_at is None
        if not state.update_capabilities(capabilities, timestamp):
            LOG.debug("ignoring stale capabilities of %s", host)
            return False
        if first:
            self._candidates = None
            self._heard_from_hosts = True
        return True

    def sync_resource_info(self, host: str, resource_ids: Iterable[str],
                           timestamp: float) -> bool:
        """Take the ids of the resources ``host`` holds; False if stale."""
        state = self._state(host)
        change = state.sync_resource_ids(resource_ids, timestamp)
        if change is None:
            LOG.debug("ignoring stale resource list of %s", host)
            return False
        removed, added = change
        for resource_id in removed:
            if self._resource_host.get(resource_id) == host:
                del self._resource_host[resource_id]
        for resource_id in added:
            self._resource_host[resource_id] = host
        return True

    def update_aggregates(self, aggregates: Iterable[Aggregate | dict]
                          ) -> None:
        """Take every aggregate (``Aggregate`` values or their
        ``as_dict()`` form) in place of those held; raise Invalid, keeping
        those held, if one is malformed. Cheap: no I/O."""
        parsed = [aggregate if isinstance(aggregate, Aggregate)
                  else Aggregate.from_dict(aggregate)
                  for aggregate in aggregates]
        by_host: dict[str, list[Aggregate]] = collections.defaultdict(list)
        for aggregate in parsed:
            for host in aggregate.hosts:
                by_host[host].append(aggregate)
        self.aggregates = parsed
        self._host_aggregates = dict(by_host)
        for host, state in self._states.items():
            state.set_aggregates(by_host.get(host, ()))

    def has_reports(self) -> bool:
        """Whether any host has reported its capabilities since start."""
        return self._heard_from_hosts

    # -- the view ----------------------------------------------------------

    def get_all_host_states(self, context: Any) -> list[HostState]:
        """Hosts that are up, enabled and have reported their capabilities."""
        self._refresh_services()
        if self._candidates is None:
            self._candidates = [
                state for host, state in self._states.items()
                if host in self._up_hosts and state.reported_at is not None]
        return list(self._candidates)

    def get_filtered_hosts(self, hosts: list[HostState],
                           spec: RequestSpec) -> list[HostState]:
        """Return the hosts passing every configured filter."""
        return self._filter(hosts, spec)[0]

    def get_weighed_hosts(self, hosts: list[HostState],
                          spec: RequestSpec) -> list[WeighedHost]:
        """Return the hosts with their summed weights, heaviest first."""
        weighed = [WeighedHost(weight, host) for weight, host
                   in zip(self._weights(hosts, spec), hosts)]
        weighed.sort(key=lambda item: item.weight, reverse=True)
        return weighed

    def locate_resources(self, resource_ids: Iterable[str]) -> dict[str, str]:
        """Map resource ids to their hosts; one query for ids not known here."""
        located: dict[str, str] = {}
        unknown = []
        for resource_id in resource_ids:
            host = self._resource_host.get(resource_id)
            if host is None:
                unknown.append(resource_id)
            else:
                located[resource_id] = host
        if unknown:
            located.update(self.lookup_hosts(unknown))
        return located

    def lookup_hosts(self, resource_ids: list[str]) -> dict[str, str]:
        """Hosts of ``resource_ids`` no host has reported (one query);
        none by default."""
        return {}

    def pools(self, context: Any) -> list[dict]:
        """``[{"host", "capabilities"}]`` of the candidates, by host name."""
        states = sorted(self.get_all_host_states(context),
                        key=lambda state: state.host)
        return [state.pool() for state in states]

    # -- one placement -----------------------------------------------------

    def select_host(self, context: Any, spec: RequestSpec,
                    exclude: Container[str] = ()) -> HostState:
        """Choose the best host for ``spec`` and consume the request on it.

        Hosts named in ``exclude`` (tried already) are left out. Raises
        :class:`~common.exception.NoValidHost` with the reason. Call
        :meth:`release` if the placement is then abandoned, or
        :meth:`claim_failed` if the host's claim did not fit.
        """
        hosts = [state for state in self.get_all_host_states(context)
                 if state.host not in exclude]
        if not hosts:
            raise exception.NoValidHost(reason=self._why_no_candidates())
        spec.resource_hosts = self.locate_resources(spec.all_hinted_ids())
        # NOTE(capstan): no I/O from here to the consumption, so no other
        # green thread's placement can run between choosing and consuming.
        hosts, reason = self._filter(hosts, spec)
        if not hosts:
            raise exception.NoValidHost(reason=reason)
        best = self._best(hosts, spec)
        best.consume_from_request(spec, self._wall_clock())
        if spec.resource_id:
            self._resource_host[spec.resource_id] = best.host
        return best

    def claim_failed(self, state: HostState, spec: RequestSpec) -> None:
        """The database refused the claim on ``state``'s host: release the
        placement here and read the inventories again before the next."""
        self.release(state, spec)
        self._services_read_at = None

    def release(self, state: HostState, spec: RequestSpec) -> None:
        """Undo :meth:`select_host`'s consumption (placement abandoned)."""
        state.release(spec)
        if spec.resource_id and self._resource_host.get(
                spec.resource_id) == state.host:
            del self._resource_host[spec.resource_id]

    # -- helpers -----------------------------------------------------------

    def _state(self, host: str) -> HostState:
        state = self._states.get(host)
        if state is None:
            state = self._states[host] = HostState(host)
            state.set_aggregates(self._host_aggregates.get(host, ()))
        return state

    def _refresh_services(self) -> None:
        now = self._clock()
        if self._services_read_at is not None and (
                self._services_reading
                or now - self._services_read_at < self.services_ttl):
            return
        # NOTE(capstan): one reader at a time; the placements running
        # meanwhile use the set read before. When the set expired under
        # load, every green thread placing a resource read the services at
        # once, up to one query per cast in flight, each on a new
        # overflow connection (46 PostgreSQL connections opened in 4 s
        # of benchmark 3, 1 with this). The very first read is not
        # shared: there is no older set to place on.
        self._services_reading = True
        try:
            rows = self.services.get_liveness(self.topic)
        finally:
            self._services_reading = False
        self._refresh_inventories()
        db_now = self.db.now()
        up = frozenset(
            row.host for row in rows
            if not row.disabled and records.is_up(
                row, now=db_now, service_down_time=self.service_down_time))
        self._services_read_at = now
        if up != self._up_hosts:
            self._up_hosts = up
            self._candidates = None

    def _refresh_inventories(self) -> None:
        """Capacity from the database's inventories, read with the services
        (one statement for every host)."""
        if not self.capacity_class:
            return
        read_at = self._wall_clock()
        for row in self.placement.inventories(self.capacity_class):
            self._state(row.host).update_inventory(row, read_at)

    def _why_no_candidates(self) -> str:
        if not self._up_hosts:
            return f"no {self.topic} service is up and enabled"
        return (f"no {self.topic} host that is up and enabled has reported "
                "its capabilities yet")

    def _filter(self, hosts: list[HostState],
                spec: RequestSpec) -> tuple[list[HostState], str | None]:
        for host_filter in self.filters:
            if not host_filter.run_filter_for_spec(spec):
                continue
            before = len(hosts)
            hosts = host_filter.filter_all(hosts, spec)
            if not hosts:
                reason = (f"{host_filter.name} rejected all {before} "
                          f"candidate hosts for {spec}")
                LOG.info("%s %s: %s", self.topic, spec.resource_id, reason)
                return [], reason
        return hosts, None

    def _best(self, hosts: list[HostState], spec: RequestSpec) -> HostState:
        positions = range(len(hosts))
        if len(self.weighers) == 1:
            # NOTE(capstan): normalising a lone weigher's weights changes no
            # ranking, so the hot path skips it (and its two passes).
            weigher = self.weighers[0]
            if weigher.multiplier == 0:
                return hosts[0]
            raw = weigher.weigh_objects(hosts, spec)
            pick = max if weigher.multiplier > 0 else min
            return hosts[pick(positions, key=raw.__getitem__)]
        weights = self._weights(hosts, spec)
        return hosts[max(positions, key=weights.__getitem__)]

    def _weights(self, hosts: list[HostState],
                 spec: RequestSpec) -> list[float]:
        totals = [0.0] * len(hosts)
        for weigher in self.weighers:
            normalized = weighers_pkg.normalize(
                weigher.weigh_objects(hosts, spec))
            multiplier = weigher.multiplier
            totals = [total + multiplier * weight
                      for total, weight in zip(totals, normalized)]
        return totals


def _load_classes(option: str, names: list[str], namespace: str,
                  base: type) -> list[type]:
    """Resolve ``[scheduler] <option>`` names to classes, or raise Invalid."""
    classes = []
    for name in names:
        try:
            classes.append(plugins.load_class(namespace, name, base,
                                              what=option.rstrip("s")))
        except plugins.PluginNotFound as exc:
            raise exception.Invalid(_why(option, base, exc)) from None
    return classes


def _why(option: str, base: type, exc: plugins.PluginNotFound) -> str:
    if exc.known is None:
        return f"[scheduler] {option}: {exc}"
    known = ", ".join(exc.known) or "(none installed)"
    return (f"[scheduler] {option}: unknown name {exc.name!r}; use one of "
            f"{known} or the dotted path of a {base.__name__} subclass")
