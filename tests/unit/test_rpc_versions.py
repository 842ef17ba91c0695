"""RPC versions: the decorator, the method tables and the derived version
a Manager serves."""
import pytest

from capstan.common import rpc, rpc_methods, rpc_versions
from capstan.common.manager import Manager
from capstan.common.rpc_versions import MethodSpec
from capstan.worker.scheduler.manager import SchedulerManagerBase
from capstan_volumes.scheduler.manager import SchedulerManager
from capstan_volumes.scheduler.rpc_methods import METHODS as SCHEDULER
from capstan_volumes.volume.manager import VolumeManager
from capstan_volumes.volume.rpc_methods import METHODS as VOLUME


class OldManager(Manager):
    @rpc.method
    def ping(self, context, value):
        return value


class NewManager(OldManager):
    @rpc.method(since="1.1")
    def pong(self, context, value):
        return value

    @rpc.method(since="1.0", arguments={"force": "1.2"})
    def drop(self, context, name, force=None):
        return name

    def helper(self, context):
        """Not exposed: not an RPC method."""


def test_methods_of_lists_exposed_methods_with_their_specs():
    assert rpc_versions.methods_of(NewManager) == {
        "ping": MethodSpec.of("1.0"), "pong": MethodSpec.of("1.1"),
        "drop": MethodSpec.of("1.0", {"force": "1.2"})}


def test_served_version_is_the_highest_method_or_argument():
    assert OldManager.RPC_API_VERSION == "1.0"
    assert NewManager.RPC_API_VERSION == "1.2"
    assert Manager.RPC_API_VERSION == "1.0"  # no method at all


def test_target_uses_the_derived_version():
    assert NewManager.__dict__.get("RPC_API_VERSION") is None
    assert Manager.target.fget(_bare(NewManager)).version == "1.2"


def test_plain_expose_counts_as_1_0():
    class Plain(Manager):
        @rpc.expose
        def hello(self, context):
            pass

    assert rpc_versions.methods_of(Plain) == {"hello": MethodSpec()}
    assert Plain.RPC_API_VERSION == "1.0"


def test_override_without_decorator_is_no_rpc_method():
    class Hidden(NewManager):
        def pong(self, context, value):
            return value

    assert "pong" not in rpc_versions.methods_of(Hidden)
    assert Hidden.RPC_API_VERSION == "1.2"


def test_hand_set_version_constant_is_refused():
    with pytest.raises(TypeError, match="derived"):
        class Stale(Manager):
            RPC_API_VERSION = "1.4"


def test_methods_spanning_two_majors_are_refused_at_class_definition():
    with pytest.raises(TypeError, match="majors"):
        class Mixed(OldManager):
            @rpc.method(since="2.0")
            def other(self, context):
                pass


def test_version_is_read_only_on_instances():
    with pytest.raises(AttributeError):
        _bare(NewManager).RPC_API_VERSION = "9.9"


def test_method_accepts_a_spec_from_a_table():
    spec = MethodSpec.of("1.3")

    @rpc.method(spec)
    def fn(self, context):
        pass

    assert fn.exposed is True
    assert getattr(fn, rpc_versions.SPEC_ATTRIBUTE) is spec


def test_method_refuses_a_spec_and_since_together():
    with pytest.raises(TypeError):
        rpc.method(MethodSpec(), since="1.1")


def test_version_for_raises_to_a_newer_argument_actually_passed():
    spec = MethodSpec.of("1.1", {"force": "1.3", "reason": "1.2"})
    assert spec.version_for({"name": "a"}) == ("1.1", {"name": "a"})
    assert spec.version_for({"name": "a", "reason": "r"}) == (
        "1.2", {"name": "a", "reason": "r"})
    assert spec.version_for({"name": "a", "reason": "r", "force": True}) == (
        "1.3", {"name": "a", "reason": "r", "force": True})


def test_version_for_drops_a_newer_argument_passed_as_none():
    spec = MethodSpec.of("1.0", {"force": "1.2"})
    assert spec.version_for({"name": "a", "force": None}) == (
        "1.0", {"name": "a"})


def test_argument_older_than_its_method_is_refused():
    with pytest.raises(ValueError):
        MethodSpec.of("1.2", {"x": "1.1"})


@pytest.mark.parametrize("version,cap,expected", [
    ("1.0", None, True), ("1.0", "1.0", True), ("1.1", "1.0", False),
    ("1.0", "1.3", True), ("2.0", "1.9", False), ("1.0", "2.0", False)])
def test_can_send(version, cap, expected):
    assert rpc_versions.can_send(version, cap) is expected


@pytest.mark.parametrize("bad", ["1", "1.x", "0.1", "1.2.3", "", None])
def test_parse_refuses_malformed_versions(bad):
    with pytest.raises(ValueError):
        rpc_versions.parse(bad)


def test_application_tables_match_what_its_managers_serve():
    # The clients are built from the tables, the managers expose from
    # them: a method added to one and not the other fails here.
    assert rpc_versions.methods_of(VolumeManager) == VOLUME
    assert rpc_versions.methods_of(SchedulerManager) == SCHEDULER


def test_framework_table_matches_the_scheduler_base():
    assert rpc_versions.methods_of(SchedulerManagerBase) == \
        rpc_methods.SCHEDULER


def _bare(cls):
    """An instance without running __init__ (no conf, db or transport)."""
    return cls.__new__(cls)
