"""The weighers and their normalisation, on plain HostState objects."""
from __future__ import annotations

import pytest

from capstan.common import plugins
from capstan.worker.scheduler.filters.capacity import CapacityFilter
from capstan.worker.scheduler.host_manager import HostManager
from capstan.worker.scheduler.host_state import HostState, RequestSpec
from capstan.worker.scheduler.weighers import (NAMESPACE, BaseHostWeigher,
                                               normalize)
from capstan.worker.scheduler.weighers.capacity import CapacityWeigher


def _host(name, free, total=100, **caps):
    return HostState(name, {"total_capacity_gb": total,
                            "free_capacity_gb": free,
                            "allocated_capacity_gb": total - free, **caps},
                     timestamp=1.0)


def test_weighers_built_in_are_entry_points_under_their_class_name():
    assert plugins.load_class(NAMESPACE, "CapacityWeigher",
                              BaseHostWeigher) is CapacityWeigher


@pytest.mark.parametrize("weights, expected", [
    ([], []),
    ([5, 5], [0.0, 0.0]),
    ([10, 30, 20], [0.0, 1.0, 0.5]),
    ([-4, 0], [0.0, 1.0]),
])
def test_normalize_scales_to_zero_one(weights, expected):
    assert normalize(weights) == expected


def test_capacity_weigher_thick_weighs_free_capacity():
    hosts = [_host("a", free=10), _host("b", free=60)]

    assert CapacityWeigher().weigh_objects(hosts, RequestSpec(size=1)) == [
        10, 60]


def test_capacity_weigher_thin_weighs_what_can_still_be_promised():
    host = _host("a", free=5, total=100, thin_provisioning=True,
                 max_over_subscription_ratio=2.0, provisioned_capacity_gb=150)

    assert CapacityWeigher().weigh_objects([host], RequestSpec(size=1)) == [
        50.0]


class ByName(BaseHostWeigher):
    """Prefers hosts late in the alphabet; to combine with capacity."""

    def weigh_objects(self, hosts, spec):
        return [ord(host.host[0]) for host in hosts]


def _weigh(weighers, hosts):
    manager = HostManager(db=None, filters=[CapacityFilter()],
                          weighers=weighers, service_down_time=60)
    return [(w.host_state.host, w.weight)
            for w in manager.get_weighed_hosts(hosts, RequestSpec(size=1))]


def test_weighed_hosts_positive_multiplier_spreads():
    hosts = [_host("a", free=10), _host("b", free=90), _host("c", free=50)]

    assert _weigh([CapacityWeigher(multiplier=1.0)], hosts)[0][0] == "b"


def test_weighed_hosts_negative_multiplier_stacks():
    hosts = [_host("a", free=10), _host("b", free=90), _host("c", free=50)]

    assert _weigh([CapacityWeigher(multiplier=-1.0)], hosts)[0][0] == "a"


def test_weighed_hosts_sum_normalised_weights_times_multipliers():
    hosts = [_host("a", free=10), _host("b", free=90), _host("c", free=50)]

    weighed = dict(_weigh([CapacityWeigher(multiplier=1.0),
                           ByName(multiplier=3.0)], hosts))

    # capacity: a 0, b 1, c 0.5; name: a 0, b 0.5, c 1 (times 3).
    assert weighed == {"a": 0.0, "b": 2.5, "c": 3.5}
