"""Plugin loading by entry-point name, from a fake installed distribution,
and by dotted path."""
from __future__ import annotations

import abc

import pytest
from stevedore import extension

from capstan.common import plugins

GROUP = "capstan.tests.plugins"


class Base(abc.ABC):
    pass


class Plugin(Base):
    pass


def not_a_class():
    pass


def install_distribution(path, monkeypatch, group, entries,
                         name="capstan-test-plugins"):
    """Put a distribution declaring ``entries`` in ``group`` on sys.path,
    as pip leaves one: a dist-info directory with its entry_points.txt."""
    info = path / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")
    monkeypatch.syspath_prepend(str(path))
    # NOTE(capstan): stevedore keeps each group's entry points for the life
    # of the process; start from an empty memo so that it rescans.
    monkeypatch.setattr(extension.ExtensionManager, "ENTRY_POINT_CACHE", {})


@pytest.fixture
def group(tmp_path, monkeypatch):
    install_distribution(tmp_path, monkeypatch, GROUP, {
        "plugin": f"{__name__}:Plugin",
        "function": f"{__name__}:not_a_class",
        "missing_module": "capstan_no_such_module:Plugin",
        "missing_class": f"{__name__}:NoSuchPlugin",
    })
    return GROUP


def test_load_class_by_entry_point_name_of_an_installed_distribution(group):
    assert plugins.load_class(group, "plugin", Base) is Plugin


@pytest.mark.parametrize("path", [f"{__name__}.Plugin", f"{__name__}:Plugin"])
def test_load_class_by_dotted_path(path):
    assert plugins.load_class("capstan.no.such.group", path, Base) is Plugin


def test_load_class_unknown_name_gives_the_known_names(group):
    with pytest.raises(plugins.PluginNotFound) as info:
        plugins.load_class(group, "plugn", what="widget")

    error = info.value
    assert error.name == "plugn"
    assert error.known == ("function", "missing_class", "missing_module",
                           "plugin")
    assert error.reason == (f"no such widget in {group} (known: function, "
                            "missing_class, missing_module, plugin)")
    assert str(error) == f"cannot load 'plugn': {error.reason}"


def test_load_class_unknown_group_says_none_installed():
    with pytest.raises(plugins.PluginNotFound) as info:
        plugins.load_class("capstan.no.such.group", "plugin")

    assert info.value.known == ()
    assert "(known: none installed)" in info.value.reason


@pytest.mark.parametrize("name, reason", [
    ("missing_module", "No module named 'capstan_no_such_module'"),
    ("missing_class", "NoSuchPlugin"),
    ("function", "it is not a Base subclass"),
    ("capstan_no_such_module.Plugin",
     "No module named 'capstan_no_such_module'"),
    (f"{__name__}.NoSuchPlugin",
     f"module {__name__} has no attribute NoSuchPlugin"),
    (f"{__name__}.", "not a dotted path"),
    (f"{__name__}.not_a_class", "it is not a Base subclass"),
])
def test_load_class_what_loads_nothing_raises_one_line(group, name, reason):
    with pytest.raises(plugins.PluginNotFound) as info:
        plugins.load_class(group, name, Base)

    assert reason in info.value.reason
    assert info.value.known is None
    assert "\n" not in str(info.value)


def test_load_class_without_base_takes_any_object(group):
    assert plugins.load_class(group, "function") is not_a_class


def test_load_class_name_in_two_distributions_is_refused(
        group, tmp_path, monkeypatch):
    install_distribution(tmp_path / "other", monkeypatch, group,
                         {"plugin": f"{__name__}:Base"},
                         name="capstan-other-plugins")

    with pytest.raises(plugins.PluginNotFound,
                       match="more than one plugin named plugin"):
        plugins.load_class(group, "plugin")


def test_names_lists_the_group_sorted_without_importing(group):
    # missing_module would fail to import: listing does not try.
    assert plugins.names(group) == ("function", "missing_class",
                                    "missing_module", "plugin")

