"""Driver loading by entry-point name and by dotted path."""
import pytest

from capstan.common import driver, exception
from capstan_volumes.volume.drivers import base
from capstan_volumes.volume.drivers.fake import FakeDriver
from capstan_volumes.volume.drivers.file import FileDriver


@pytest.mark.parametrize("name, cls", [("fake", FakeDriver),
                                       ("file", FileDriver)])
def test_load_class_by_entry_point_name(name, cls):
    assert driver.load_class(base.NAMESPACE, name) is cls


@pytest.mark.parametrize("name", [
    "capstan_volumes.volume.drivers.fake.FakeDriver",
    "capstan_volumes.volume.drivers.fake:FakeDriver",
])
def test_load_class_by_dotted_path(name):
    assert driver.load_class(base.NAMESPACE, name) is FakeDriver


def test_load_builds_the_driver_with_its_arguments():
    loaded = driver.load(base.NAMESPACE, "fake", host="h1",
                         options={"capacity_gb": 5})

    assert isinstance(loaded, FakeDriver)
    assert loaded.host == "h1"
    assert loaded.get_capabilities()["total_capacity_gb"] == 5


def test_load_class_unknown_name_lists_known_names_on_one_line():
    with pytest.raises(exception.DriverNotFound) as info:
        driver.load_class(base.NAMESPACE, "lvm")

    message = str(info.value)
    assert "lvm" in message
    assert "known: fake, file" in message
    assert "\n" not in message


def test_load_class_unknown_namespace_says_none_installed():
    with pytest.raises(exception.DriverNotFound, match="none installed"):
        driver.load_class("capstan.no.such.namespace", "fake")


@pytest.mark.parametrize("name, reason", [
    ("no_such_package.drivers.Driver", "No module named 'no_such_package'"),
    ("capstan_volumes.volume.drivers.fake.NoSuchDriver",
     "module capstan_volumes.volume.drivers.fake has no attribute NoSuchDriver"),
    ("capstan_volumes.volume.drivers.fake.", "not a dotted path"),
])
def test_load_class_bad_dotted_path_raises_one_line(name, reason):
    with pytest.raises(exception.DriverNotFound) as info:
        driver.load_class(base.NAMESPACE, name)

    message = str(info.value)
    assert reason in message
    assert name in message
    assert "\n" not in message
    assert "Traceback" not in message
