"""Loader: where the paste file is found, and how a broken one fails."""
from __future__ import annotations

import os

import pytest

from capstan.common import config
from capstan.common.wsgi_service import (Loader, find_paste_config,
                                         paste_config_candidates)

TRIVIAL_INI = """\
[app:main]
paste.app_factory = tests.unit.test_wsgi_service:app_factory
"""


def app_factory(global_conf, **local_conf):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    app.local_conf = local_conf
    return app


def _conf(*argv: str, paste_config: str | None = None):
    conf = config.make_conf()
    config.load(conf, list(argv))
    if paste_config is not None:
        conf.set_override("paste_config", paste_config, group="api")
    return conf


@pytest.fixture
def dirs(tmp_path):
    """A config dir, a source etc/ and an install prefix, all empty."""
    paths = {name: tmp_path / name for name in ("conf", "source", "prefix")}
    for path in paths.values():
        path.mkdir()
    (paths["prefix"] / "etc" / "capstan").mkdir(parents=True)
    (paths["conf"] / "capstan.conf").write_text("[DEFAULT]\n")
    return paths


def _find(conf, dirs):
    return find_paste_config(conf, source_etc=str(dirs["source"]),
                             prefix=str(dirs["prefix"]))


def test_paste_config_candidates_absolute_path_is_taken_as_is(tmp_path):
    path = str(tmp_path / "custom.ini")
    assert paste_config_candidates(_conf(paste_config=path)) == [path]


def test_paste_config_candidates_relative_order(dirs):
    conf = _conf("--config-file", str(dirs["conf"] / "capstan.conf"))
    assert paste_config_candidates(
        conf, source_etc=str(dirs["source"]), prefix=str(dirs["prefix"])
    ) == [str(dirs["conf"] / "api-paste.ini"),
          str(dirs["source"] / "api-paste.ini"),
          str(dirs["prefix"] / "etc" / "capstan" / "api-paste.ini")]


def test_paste_config_candidates_without_config_file(dirs):
    assert paste_config_candidates(
        _conf(), source_etc=str(dirs["source"]), prefix=str(dirs["prefix"])
    ) == [str(dirs["source"] / "api-paste.ini"),
          str(dirs["prefix"] / "etc" / "capstan" / "api-paste.ini")]


def test_find_paste_config_next_to_config_file_wins(dirs):
    for name in ("conf", "source"):
        (dirs[name] / "api-paste.ini").write_text(TRIVIAL_INI)
    conf = _conf("--config-file", str(dirs["conf"] / "capstan.conf"))
    assert _find(conf, dirs) == str(dirs["conf"] / "api-paste.ini")


def test_find_paste_config_relative_subpath_of_config_dir(dirs):
    (dirs["conf"] / "paste").mkdir()
    (dirs["conf"] / "paste" / "api.ini").write_text(TRIVIAL_INI)
    conf = _conf("--config-file", str(dirs["conf"] / "capstan.conf"),
                 paste_config="paste/api.ini")
    assert _find(conf, dirs) == str(dirs["conf"] / "paste" / "api.ini")


def test_find_paste_config_source_tree_before_install_prefix(dirs):
    installed = dirs["prefix"] / "etc" / "capstan" / "api-paste.ini"
    installed.write_text(TRIVIAL_INI)
    assert _find(_conf(), dirs) == str(installed)
    (dirs["source"] / "api-paste.ini").write_text(TRIVIAL_INI)
    assert _find(_conf(), dirs) == str(dirs["source"] / "api-paste.ini")


def test_find_paste_config_missing_names_every_place(dirs):
    conf = _conf("--config-file", str(dirs["conf"] / "capstan.conf"))
    with pytest.raises(config.ConfigError) as info:
        _find(conf, dirs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("paste config api-paste.ini not found")
    for name in ("conf", "source"):
        assert str(dirs[name] / "api-paste.ini") in message


def test_find_paste_config_missing_absolute_path(tmp_path):
    path = str(tmp_path / "nope.ini")
    with pytest.raises(config.ConfigError, match="nope.ini not found"):
        find_paste_config(_conf(paste_config=path))


def test_find_paste_config_default_is_the_shipped_file():
    # The repository's etc/ when run from a checkout or editable install.
    path = find_paste_config(_conf())
    assert os.path.basename(path) == "api-paste.ini"


def test_loader_load_app_builds_the_named_app(tmp_path):
    path = tmp_path / "api-paste.ini"
    path.write_text(TRIVIAL_INI + "greeting = hi\n")
    app = Loader(str(path)).load_app("main")
    assert app.local_conf == {"greeting": "hi"}


def test_loader_load_app_uses_the_given_load_function(tmp_path):
    calls = []
    loader = Loader(str(tmp_path / "x.ini"),
                    lambda path, name: calls.append((path, name)) or "app")
    assert loader.load_app("main") == "app"
    assert calls == [(str(tmp_path / "x.ini"), "main")]
