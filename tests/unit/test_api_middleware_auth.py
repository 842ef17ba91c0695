"""Auth filters and the token store."""
from __future__ import annotations

import hashlib
import os

import pytest
import webob

from capstan.api import wsgi_util
from capstan.api.middleware import auth
from capstan.common import exception


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def seen_identity(filter_, headers):
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return webob.Response()(environ, start_response)
    req = webob.Request.blank("/", headers=headers)
    req.get_response(filter_(app))
    return seen


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "tokens"
    path.write_text(f"{digest('secret')} alice ops admin,member\n")
    return path


def test_token_store_finds_identity_by_hash(token_file):
    store = auth.TokenStore(str(token_file))
    assert store.lookup("secret") == auth.Identity("alice", "ops",
                                                   ("admin", "member"))
    assert store.lookup("other") is None


def test_token_store_rereads_changed_file(token_file):
    store = auth.TokenStore(str(token_file))
    assert store.lookup("new") is None
    with open(token_file, "a") as handle:
        handle.write(f"{digest('new')} bob p1 member\n")
    assert store.lookup("new").user_id == "bob"


def test_token_store_replaced_file_drops_old_tokens(token_file, tmp_path):
    store = auth.TokenStore(str(token_file))
    assert store.lookup("secret")
    replacement = tmp_path / "tokens.new"
    replacement.write_text(f"{digest('other')} bob p1 member\n")
    os.replace(replacement, token_file)
    assert store.lookup("secret") is None
    assert store.lookup("other")


def test_token_store_missing_file_refuses_everything(tmp_path):
    assert auth.TokenStore(str(tmp_path / "none")).lookup("secret") is None


def test_token_store_skips_malformed_lines_without_logging_them(tmp_path,
                                                                caplog):
    path = tmp_path / "tokens"
    path.write_text(f"# comment\n\nnot-a-digest u p admin\n"
                    f"{digest('secret')} alice ops\n")
    store = auth.TokenStore(str(path))
    assert store.lookup("secret") == auth.Identity("alice", "ops", ())
    assert "line 3 is malformed" in caplog.text
    assert "not-a-digest" not in caplog.text


def test_token_auth_strips_forged_identity_headers(token_file):
    store = auth.TokenStore(str(token_file))
    environ = seen_identity(
        lambda app: auth.TokenAuth(app, store),
        {"X-Auth-Token": "secret", "X-Roles": "superuser",
         "X-User-Id": "mallory", "X-Tenant-Id": "x", "X-Project-Name": "y"})
    assert environ[wsgi_util.IDENTITY_KEY].user_id == "alice"
    assert not [key for key in environ
                if key.startswith(auth.IDENTITY_HEADER_PREFIXES)]


def test_token_auth_missing_token_raises_not_authorized(token_file):
    store = auth.TokenStore(str(token_file))
    with pytest.raises(exception.NotAuthorized):
        seen_identity(lambda app: auth.TokenAuth(app, store), {})


def test_noauth_takes_identity_from_headers():
    environ = seen_identity(auth.NoAuth, {
        "X-User-Id": "u", "X-Project-Id": "p", "X-Roles": " admin, ,member"})
    assert environ[wsgi_util.IDENTITY_KEY] == auth.Identity(
        "u", "p", ("admin", "member"))


def test_noauth_without_user_raises_not_authorized():
    with pytest.raises(exception.NotAuthorized):
        seen_identity(auth.NoAuth, {"X-Project-Id": "p"})
