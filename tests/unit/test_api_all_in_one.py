"""The decisions of ``api-server --all-in-one`` that need no server.

The process itself runs in tests/functional/test_all_in_one.py.
"""
from __future__ import annotations

import hashlib
import logging

import pytest

from capstan.api import all_in_one
from capstan.common import config


def make_conf(tmp_path, **sections):
    """A conf from a config file of ``{section: {option: value}}``."""
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
    path = tmp_path / "capstan.conf"
    path.write_text("\n".join(lines) + "\n")
    conf = config.make_conf()
    config.load(conf, ["--config-file", str(path)])
    conf.set_override("state_path", str(tmp_path))
    return conf


def test_apply_defaults_on_nothing_set_picks_noauth_and_no_fuzzy_delay(
        tmp_path):
    conf = make_conf(tmp_path)
    all_in_one.apply_defaults(conf)
    assert conf.api.auth_strategy == "noauth"
    assert conf.periodic_fuzzy_delay == 0
    assert conf.api.api_workers == 1


def test_apply_defaults_keeps_what_the_operator_configured(tmp_path):
    conf = make_conf(tmp_path, DEFAULT={"periodic_fuzzy_delay": 7},
                     api={"auth_strategy": "token"})
    all_in_one.apply_defaults(conf)
    assert conf.api.auth_strategy == "token"
    assert conf.periodic_fuzzy_delay == 7


def test_apply_defaults_keeps_token_beyond_loopback(tmp_path):
    conf = make_conf(tmp_path, api={"bind_host": "0.0.0.0"})
    all_in_one.apply_defaults(conf)
    assert conf.api.auth_strategy == "token"


def test_apply_defaults_refuses_noauth_beyond_loopback(tmp_path):
    conf = make_conf(tmp_path, api={"bind_host": "0.0.0.0",
                                    "auth_strategy": "noauth"})
    with pytest.raises(config.ConfigError, match=r"^--all-in-one refuses "
                       r"\[api\] auth_strategy = noauth on bind_host "
                       r"0\.0\.0\.0, which is not loopback"):
        all_in_one.apply_defaults(conf)


def test_apply_defaults_allows_configured_noauth_on_loopback(tmp_path):
    conf = make_conf(tmp_path, api={"bind_host": "::1",
                                    "auth_strategy": "noauth"})
    all_in_one.apply_defaults(conf)
    assert conf.api.auth_strategy == "noauth"


def test_apply_defaults_forces_one_api_worker_with_a_warning(tmp_path,
                                                             caplog):
    conf = make_conf(tmp_path, api={"api_workers": 4})
    caplog.set_level(logging.WARNING, logger="capstan.api.all_in_one")
    all_in_one.apply_defaults(conf)
    assert conf.api.api_workers == 1
    assert caplog.messages == [
        "--all-in-one runs in one process: ignoring [api] api_workers = 4"]


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False),
    ("192.0.2.10", False), ("no-such-host.invalid", False),
])
def test_is_loopback(host, expected):
    assert all_in_one.is_loopback(host) is expected


def test_ensure_admin_token_writes_only_the_hash_once(tmp_path):
    conf = make_conf(tmp_path, api={"auth_strategy": "token",
                                    "token_file": tmp_path / "t" / "tokens"})
    token = all_in_one.ensure_admin_token(conf)
    digest = hashlib.sha256(token.encode()).hexdigest()
    path = tmp_path / "t" / "tokens"
    assert path.read_text() == f"{digest} admin admin admin\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert all_in_one.ensure_admin_token(conf) is None
    assert path.read_text() == f"{digest} admin admin admin\n"


def test_ensure_admin_token_does_nothing_under_noauth(tmp_path):
    conf = make_conf(tmp_path, api={"auth_strategy": "noauth"})
    assert all_in_one.ensure_admin_token(conf) is None
    assert not (tmp_path / "tokens").exists()
