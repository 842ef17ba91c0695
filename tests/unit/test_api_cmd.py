"""api-server pieces that need no server: the pre-fork build check.

The binary itself runs as a real process in
tests/integration/test_api_server.py.
"""
from __future__ import annotations

import logging
import os

import pytest

from capstan.api import cmd


def test_check_in_child_passes_when_the_build_works():
    cmd._check_in_child(lambda: "app")


def test_check_in_child_raises_the_build_error_of_the_child():
    def build():
        raise cmd.BuildError("cannot load 'main' from x.ini: bad")

    with pytest.raises(cmd.BuildError, match="^cannot load 'main' from "
                                             "x.ini: bad$"):
        cmd._check_in_child(build)


def test_check_in_child_reports_an_unexpected_error_on_one_line():
    def build():
        raise RuntimeError("first line\nsecond line")

    with pytest.raises(cmd.BuildError) as info:
        cmd._check_in_child(build)
    assert str(info.value) == "cannot build app 'main': first line"


def test_check_in_child_builds_in_another_process(tmp_path):
    marker = tmp_path / "pid"
    cmd._check_in_child(lambda: marker.write_text(str(os.getpid())))
    assert int(marker.read_text()) != os.getpid()


@pytest.mark.parametrize("host, shown", [
    ("127.0.0.1", "http://127.0.0.1:8780"),
    ("::1", "http://[::1]:8780"),
])
def test_log_listening_shows_a_url(caplog, host, shown):
    caplog.set_level(logging.INFO, logger="capstan.api.cmd")
    cmd._log_listening(host, 8780)
    assert caplog.messages == [f"listening on {shown}"]
