"""The fake and file drivers against one contract, then the file driver."""
import os

import pytest

from capstan.common import exception
from capstan_volumes.volume.drivers.fake import FakeDriver
from capstan_volumes.volume.drivers.file import GiB, FileDriver
from capstan_volumes import exception as volume_exception

VOLUME = "0f6a9ee4-57b4-4c61-8d0f-5b2d8d6c2a10"


def make_file_driver(tmp_path, capacity_gb=0):
    drv = FileDriver(host="h1", options={"pool_path": str(tmp_path / "pool"),
                                         "capacity_gb": capacity_gb})
    drv.do_setup()
    return drv


@pytest.fixture(params=["fake", "file"])
def drv(request, tmp_path):
    if request.param == "fake":
        fake = FakeDriver(host="h1", options={"capacity_gb": 100})
        fake.do_setup()
        return fake
    return make_file_driver(tmp_path, capacity_gb=100)


def allocated(drv) -> int:
    return drv.get_capabilities()["allocated_capacity_gb"]


# -- the driver contract, both drivers ----------------------------------------

def test_create_volume_lists_it_and_counts_its_size(drv):
    location = drv.create_volume(VOLUME, 2)

    assert VOLUME in location
    assert drv.list_volumes() == [VOLUME]
    assert allocated(drv) == 2


def test_create_volume_twice_is_idempotent(drv):
    first = drv.create_volume(VOLUME, 2)

    assert drv.create_volume(VOLUME, 2) == first
    assert drv.list_volumes() == [VOLUME]
    assert allocated(drv) == 2


def test_create_volume_again_after_extend_keeps_the_new_size(drv):
    drv.create_volume(VOLUME, 1)
    drv.extend_volume(VOLUME, 3)

    drv.create_volume(VOLUME, 1)

    assert allocated(drv) == 3


def test_extend_volume_grows_it(drv):
    drv.create_volume(VOLUME, 1)

    drv.extend_volume(VOLUME, 4)

    assert allocated(drv) == 4


def test_extend_volume_missing_raises_not_found(drv):
    with pytest.raises(volume_exception.VolumeNotFound):
        drv.extend_volume(VOLUME, 4)


def test_extend_volume_to_a_smaller_size_is_refused(drv):
    drv.create_volume(VOLUME, 3)

    with pytest.raises(exception.Invalid):
        drv.extend_volume(VOLUME, 1)

    assert allocated(drv) == 3


def test_delete_volume_removes_it(drv):
    drv.create_volume(VOLUME, 1)

    drv.delete_volume(VOLUME)

    assert drv.list_volumes() == []
    assert allocated(drv) == 0


def test_delete_volume_missing_is_fine(drv):
    drv.delete_volume(VOLUME)

    assert drv.list_volumes() == []


def test_list_volumes_is_sorted(drv):
    for volume_id in ("c", "a", "b"):
        drv.create_volume(volume_id, 1)

    assert drv.list_volumes() == ["a", "b", "c"]


def test_get_capabilities_reports_capacity(drv):
    drv.create_volume(VOLUME, 30)

    caps = drv.get_capabilities()

    assert caps["total_capacity_gb"] == 100
    assert caps["allocated_capacity_gb"] == 30
    assert caps["free_capacity_gb"] <= 70


# -- the file driver ----------------------------------------------------------

def test_file_create_volume_is_a_sparse_file_of_the_apparent_size(tmp_path):
    drv = make_file_driver(tmp_path)

    location = drv.create_volume(VOLUME, 5)

    path = tmp_path / "pool" / f"{VOLUME}.img"
    info = os.stat(path)
    assert info.st_size == 5 * GiB
    assert info.st_blocks * 512 < 1024 * 1024
    assert location == f"file://h1{path}"


def test_file_extend_volume_grows_the_file(tmp_path):
    drv = make_file_driver(tmp_path)
    drv.create_volume(VOLUME, 1)

    drv.extend_volume(VOLUME, 3)

    assert os.path.getsize(tmp_path / "pool" / f"{VOLUME}.img") == 3 * GiB


def test_file_create_volume_keeps_existing_data(tmp_path):
    drv = make_file_driver(tmp_path)
    drv.create_volume(VOLUME, 1)
    path = tmp_path / "pool" / f"{VOLUME}.img"
    with open(path, "r+b") as handle:
        handle.write(b"data")

    drv.create_volume(VOLUME, 1)

    with open(path, "rb") as handle:
        assert handle.read(4) == b"data"


def test_file_get_capabilities_without_cap_reports_the_file_system(tmp_path):
    drv = make_file_driver(tmp_path)

    caps = drv.get_capabilities()

    stat = os.statvfs(tmp_path / "pool")
    assert caps["total_capacity_gb"] == stat.f_blocks * stat.f_frsize // GiB
    assert caps["driver"] == "file"
    assert caps["pool_path"] == str(tmp_path / "pool")


def test_file_get_capabilities_capped_by_capacity_gb(tmp_path):
    drv = make_file_driver(tmp_path, capacity_gb=5)
    drv.create_volume("a", 2)

    caps = drv.get_capabilities()

    assert caps["total_capacity_gb"] == 5
    assert caps["allocated_capacity_gb"] == 2
    assert caps["free_capacity_gb"] == 3


def test_file_get_capabilities_over_allocated_reports_no_free(tmp_path):
    drv = make_file_driver(tmp_path, capacity_gb=5)
    drv.create_volume("a", 4)
    drv.create_volume("b", 4)

    assert drv.get_capabilities()["free_capacity_gb"] == 0


def test_file_list_volumes_ignores_other_files(tmp_path):
    drv = make_file_driver(tmp_path)
    drv.create_volume(VOLUME, 1)
    (tmp_path / "pool" / "notes.txt").write_text("x")

    assert drv.list_volumes() == [VOLUME]


def test_file_do_setup_creates_the_pool_and_is_repeatable(tmp_path):
    drv = make_file_driver(tmp_path / "deep" / "er")

    drv.do_setup()

    assert (tmp_path / "deep" / "er" / "pool").is_dir()


@pytest.mark.parametrize("bad_id", [
    "", "../escape", "a/b", "/abs", ".hidden", "..", "nul\x00byte"],
    ids=["empty", "parent", "slash", "absolute", "hidden", "dotdot", "nul"])
@pytest.mark.parametrize("operation", [
    lambda drv, vid: drv.create_volume(vid, 1),
    lambda drv, vid: drv.extend_volume(vid, 2),
    lambda drv, vid: drv.delete_volume(vid),
], ids=["create", "extend", "delete"])
def test_file_bad_volume_id_is_refused(tmp_path, bad_id, operation):
    drv = make_file_driver(tmp_path)

    with pytest.raises(exception.Invalid):
        operation(drv, bad_id)

    assert os.listdir(tmp_path / "pool") == []
    assert sorted(os.listdir(tmp_path)) == ["pool"]
