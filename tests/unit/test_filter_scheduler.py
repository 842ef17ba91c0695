"""FilterScheduler's flows on a real database with a hand-driven clock.

The volume workers are a recording fake of VolumeAPI; the HostManager is
the real one, fed capability reports by the test.
"""
from __future__ import annotations

import datetime
import uuid

import oslo_messaging as messaging
import pytest

from capstan.common import context
from capstan.common.db import migration
from capstan.common.db.api import Database
from capstan.common.db.placement import Placement
from capstan.common.db.services import Services
from capstan_volumes.scheduler.filter_scheduler import FilterScheduler
from capstan.worker.scheduler.filters.availability_zone import AvailabilityZoneFilter
from capstan.worker.scheduler.filters.capacity import CapacityFilter
from capstan_volumes.scheduler.host_manager import VolumeHostManager as HostManager
from capstan.worker.scheduler.weighers.capacity import CapacityWeigher
from capstan_volumes import models as volume_models
from capstan_volumes import db as volume_db
from capstan_volumes.capacity import DISK_GB

START = datetime.datetime(2026, 1, 1, 12, 0, 0)
RESEND_AFTER = 60
MAX_ATTEMPTS = 2


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


class RecordingVolumeAPI:
    """Records create_volume casts; ``fail`` makes the next ones time out."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, str]] = []
        self.fail = False

    def create_volume(self, context, *, host, volume_id):
        if self.fail:
            raise messaging.MessagingTimeout("broker away")
        self.casts.append((host, volume_id))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def db(db_url, clock):
    db = Database(db_url, now=clock)
    migration.upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def host_manager(db):
    return HostManager(db=db,
                       filters=[AvailabilityZoneFilter(), CapacityFilter()],
                       weighers=[CapacityWeigher()], service_down_time=3600,
                       services_ttl=0)


@pytest.fixture
def volume_api():
    return RecordingVolumeAPI()


@pytest.fixture
def scheduler(db, host_manager, volume_api):
    return FilterScheduler(db=db, host_manager=host_manager,
                           volume_api=volume_api, max_attempts=MAX_ATTEMPTS,
                           resend_after=RESEND_AFTER, host="s1")


@pytest.fixture
def ctxt():
    return context.get_admin_context()


def _add_host(db, host_manager, host, free, zone="az1"):
    """A volume host as its worker makes it known: service record, disk
    inventory (what claims are made against), capability report."""
    Services(db).create(host, "worker", "volume")
    Placement(db).set_inventory(host, DISK_GB, total=free)
    host_manager.update_service_capabilities(host, {
        "total_capacity_gb": 100, "free_capacity_gb": free,
        "allocated_capacity_gb": 100 - free, "availability_zone": zone},
        1.0)


def _volume(db, clock, size=10, **values):
    values.setdefault("status", "creating")
    row = volume_db.create(db, id=str(uuid.uuid4()), size=size,
                           created_at=clock(), **values)
    return row.id


def _row(db, volume_id):
    with db.session() as session:
        return session.get(volume_models.Volume, volume_id)


def test_create_volume_places_records_and_casts(scheduler, db, clock,
                                                host_manager, volume_api,
                                                ctxt):
    _add_host(db, host_manager, "a", free=30, zone="az1")
    _add_host(db, host_manager, "b", free=80, zone="az2")
    volume_id = _volume(db, clock)

    assert scheduler.create_volume(ctxt, volume_id, {"size": 10}) == "b"

    row = _row(db, volume_id)
    assert (row.status, row.host, row.availability_zone) == (
        "creating", "b", "az2")
    assert volume_api.casts == [("b", volume_id)]
    assert host_manager.pools(ctxt)[1]["capabilities"][
        "free_capacity_gb"] == 70


def test_create_volume_duplicate_cast_sends_nothing(scheduler, db, clock,
                                                    host_manager, volume_api,
                                                    ctxt):
    _add_host(db, host_manager, "a", free=50)
    volume_id = _volume(db, clock)
    scheduler.create_volume(ctxt, volume_id, {"size": 10})

    assert scheduler.create_volume(ctxt, volume_id, {"size": 10}) is None

    assert volume_api.casts == [("a", volume_id)]
    # The duplicate's consumption was given back.
    assert host_manager.pools(ctxt)[0]["capabilities"][
        "free_capacity_gb"] == 40


def test_create_volume_deleted_meanwhile_sends_nothing(scheduler, db, clock,
                                                       host_manager,
                                                       volume_api, ctxt):
    _add_host(db, host_manager, "a", free=50)
    volume_id = _volume(db, clock, deleted_at=clock())

    assert scheduler.create_volume(ctxt, volume_id, {"size": 10}) is None
    assert volume_api.casts == []


def test_create_volume_no_valid_host_sets_error_with_the_reason(
        scheduler, db, clock, host_manager, volume_api, ctxt):
    _add_host(db, host_manager, "a", free=5)
    volume_id = _volume(db, clock)

    scheduler.create_volume(ctxt, volume_id, {"size": 10})

    row = _row(db, volume_id)
    assert row.status == "error"
    assert row.host is None
    assert row.fault == ("No valid host was found: CapacityFilter rejected "
                         "all 1 candidate hosts for size 10 GiB")
    assert volume_api.casts == []


def test_create_volume_before_any_report_waits_for_a_resend(
        scheduler, db, clock, volume_api, ctxt):
    Services(db).create("a", "worker", "volume")
    volume_id = _volume(db, clock)

    scheduler.create_volume(ctxt, volume_id, {"size": 10})

    row = _row(db, volume_id)
    assert (row.status, row.host, row.fault) == ("creating", None, None)


def test_create_volume_malformed_spec_sets_error(scheduler, db, clock,
                                                 host_manager, ctxt):
    _add_host(db, host_manager, "a", free=50)
    volume_id = _volume(db, clock)

    scheduler.create_volume(ctxt, volume_id, {"size": "ten"})

    row = _row(db, volume_id)
    assert row.status == "error"
    assert row.fault.startswith("Invalid request: size must be")


def test_create_volume_lost_cast_to_the_host_is_resent(scheduler, db, clock,
                                                       host_manager,
                                                       volume_api, ctxt):
    _add_host(db, host_manager, "a", free=50)
    volume_id = _volume(db, clock)
    volume_api.fail = True
    scheduler.create_volume(ctxt, volume_id, {"size": 10})
    assert _row(db, volume_id).host == "a"

    volume_api.fail = False
    clock.advance(RESEND_AFTER + 1)
    assert scheduler.resend_stuck_volumes(ctxt) == 1

    assert volume_api.casts == [("a", volume_id)]
    assert _row(db, volume_id).schedule_attempts == 1


def test_resend_places_a_volume_whose_cast_was_lost(scheduler, db, clock,
                                                    host_manager, volume_api,
                                                    ctxt):
    _add_host(db, host_manager, "a", free=50)
    volume_id = _volume(db, clock, availability_zone="az1",
                        scheduler_hints={})
    other_id = _volume(db, clock)
    clock.advance(RESEND_AFTER / 2)
    _volume(db, clock)  # too young to be called stuck
    clock.advance(RESEND_AFTER / 2 + 1)

    scheduler.resend_stuck_volumes(ctxt)

    assert sorted(volume_api.casts) == sorted([("a", volume_id),
                                               ("a", other_id)])
    row = _row(db, volume_id)
    assert (row.host, row.schedule_attempts) == ("a", 1)


def test_resend_same_moment_twice_sends_once(scheduler, db, clock,
                                             host_manager, volume_api, ctxt):
    _add_host(db, host_manager, "a", free=50)
    _volume(db, clock)
    clock.advance(RESEND_AFTER + 1)

    scheduler.resend_stuck_volumes(ctxt)
    scheduler.resend_stuck_volumes(ctxt)

    assert len(volume_api.casts) == 1


def test_resend_no_valid_host_retries_then_sets_error(scheduler, db, clock,
                                                      host_manager,
                                                      volume_api, ctxt):
    _add_host(db, host_manager, "a", free=5)
    volume_id = _volume(db, clock, size=10)

    for attempt in range(1, MAX_ATTEMPTS + 1):
        clock.advance(RESEND_AFTER + 1)
        scheduler.resend_stuck_volumes(ctxt)
        row = _row(db, volume_id)
        assert (row.status, row.schedule_attempts) == ("creating", attempt)
        assert row.fault.startswith("No valid host was found: CapacityFilter")

    clock.advance(RESEND_AFTER + 1)
    scheduler.resend_stuck_volumes(ctxt)

    row = _row(db, volume_id)
    assert row.status == "error"
    assert row.fault == (
        "No valid host was found: gave up after 2 re-sends; last: "
        "CapacityFilter rejected all 1 candidate hosts for size 10 GiB")
    assert volume_api.casts == []


def test_resend_to_a_silent_host_gives_up_after_max_attempts(
        scheduler, db, clock, host_manager, volume_api, ctxt):
    _add_host(db, host_manager, "a", free=50)
    volume_id = _volume(db, clock, host="a")

    for _ in range(MAX_ATTEMPTS + 1):
        clock.advance(RESEND_AFTER + 1)
        scheduler.resend_stuck_volumes(ctxt)

    assert volume_api.casts == [("a", volume_id)] * MAX_ATTEMPTS
    row = _row(db, volume_id)
    assert row.status == "error"
    assert row.fault == ("The volume service on a did not create the volume "
                         "after 2 re-sends")


def test_resend_before_any_report_counts_no_attempt(scheduler, db, clock,
                                                    volume_api, ctxt):
    Services(db).create("a", "worker", "volume")
    volume_id = _volume(db, clock)
    clock.advance(RESEND_AFTER + 1)

    scheduler.resend_stuck_volumes(ctxt)

    row = _row(db, volume_id)
    assert (row.status, row.schedule_attempts) == ("creating", 0)


def test_volume_cas_creating_claims_an_attempt_once(db, clock):
    volume_id = _volume(db, clock)

    def claim():
        return volume_db.cas_creating(db, volume_id, expected_host=None,
                                      attempts=0, schedule_attempts=1)

    assert claim()
    assert not claim()
    assert not volume_db.cas_creating(db, volume_id, expected_host="a",
                                      fault="x")


def test_volume_get_hosts_maps_placed_live_volumes_only(db, clock):
    placed = _volume(db, clock, host="a")
    unplaced = _volume(db, clock)
    deleted = _volume(db, clock, host="b", deleted_at=clock())

    assert volume_db.get_hosts(db, [placed, unplaced, deleted, "nope"]) == {
        placed: "a"}


def _crashed_scheduler(db, clock, host="s-dead", age=3600 * 2):
    """A scheduler record that still reads running, heartbeat long gone
    (the fixture's service_down_time is SERVICE_DOWN_TIME)."""
    services = Services(db)
    row = services.create(host, "worker", "scheduler")
    services.update(row.id, last_seen_up=clock() - datetime.timedelta(
        seconds=age))
    return row


def test_crashed_scheduler_placed_volume_is_resent_at_once(
        scheduler, db, clock, host_manager, volume_api, ctxt):
    _add_host(db, host_manager, "a", free=50)
    volume_id = _volume(db, clock, host="a", scheduled_by="s-dead")
    _crashed_scheduler(db, clock)
    clock.advance(1)  # far less than RESEND_AFTER

    assert scheduler.resend_stuck_volumes(ctxt) == 1

    assert volume_api.casts == [("a", volume_id)]
    row = _row(db, volume_id)
    assert (row.scheduled_by, row.schedule_attempts) == ("s1", 1)
    # Now this scheduler's: not re-sent again before RESEND_AFTER.
    assert scheduler.resend_stuck_volumes(ctxt) == 0


def test_crashed_scheduler_may_have_taken_unplaced_casts(
        db, clock, host_manager, volume_api, ctxt):
    scheduler = FilterScheduler(db=db, host_manager=host_manager,
                                volume_api=volume_api,
                                max_attempts=MAX_ATTEMPTS,
                                resend_after=RESEND_AFTER, host="s1",
                                service_down_time=10)
    _add_host(db, host_manager, "a", free=50)
    before = _volume(db, clock)
    clock.advance(5)
    _crashed_scheduler(db, clock, age=0)  # its last heartbeat: now (t=5)
    clock.advance(5)
    # Created between its last heartbeat and the moment it reads down
    # (t=15): it may have taken this cast too.
    between = _volume(db, clock)

    # Its record reads down only after service_down_time.
    assert scheduler.resend_stuck_volumes(ctxt) == 0
    clock.advance(6)
    later = _volume(db, clock)  # t=16: it was found down before this
    clock.advance(4)  # t=20; all far younger than RESEND_AFTER

    assert scheduler.resend_stuck_volumes(ctxt) == 2
    assert sorted(volume_api.casts) == sorted([("a", before),
                                               ("a", between)])
    assert _row(db, later).host is None


def test_live_scheduler_placed_volume_waits_for_resend_after(
        scheduler, db, clock, host_manager, volume_api, ctxt):
    _add_host(db, host_manager, "a", free=50)
    Services(db).create("s-live", "worker", "scheduler")
    _volume(db, clock, host="a", scheduled_by="s-live")
    clock.advance(RESEND_AFTER - 1)
    assert scheduler.resend_stuck_volumes(ctxt) == 0
    assert volume_api.casts == []
