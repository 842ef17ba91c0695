"""Auth filters: who is calling. ``[api] auth_strategy`` picks one.

Both put an :class:`Identity` in ``environ["capstan.identity"]``; the
``context`` filter builds the RequestContext from it and nothing else.

- ``noauth`` (development): the identity is whatever the client claims in
  ``X-User-Id``, ``X-Project-Id`` and ``X-Roles``.
- ``token``: ``X-Auth-Token`` is hashed with sha256 and looked up in
  ``[api] token_file`` (lines ``<sha256 hex> <user> <project> <roles,...>``
  written by ``capstan-manage token create``). Identity headers sent by the
  client are removed first, so nothing downstream can trust them. The file
  is re-read when it changes, so new tokens work without a restart.

Tokens are never logged, not even in part.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import re
from typing import Any, Callable, Iterable

from capstan.api import wsgi_util
from capstan.common import exception

LOG = logging.getLogger(__name__)

# Client-sent headers that claim an identity (as environ keys). The token
# filter drops every one of them; keystone-style names are included so that
# a later filter written for keystonemiddleware cannot be fooled either.
IDENTITY_HEADER_PREFIXES = ("HTTP_X_USER", "HTTP_X_PROJECT", "HTTP_X_ROLE",
                            "HTTP_X_TENANT", "HTTP_X_DOMAIN",
                            "HTTP_X_IDENTITY", "HTTP_X_SERVICE",
                            "HTTP_X_IS_ADMIN")
TOKEN_HEADER = "HTTP_X_AUTH_TOKEN"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_MISSING = (-1, -1, -1)  # the stamp of a file that cannot be stat'ed

StartResponse = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class Identity:
    """An authenticated caller."""

    user_id: str
    project_id: str
    roles: tuple[str, ...] = ()


def parse_roles(text: str) -> tuple[str, ...]:
    """Split ``admin, member`` into ``("admin", "member")``."""
    return tuple(role.strip() for role in text.split(",") if role.strip())


class NoAuth:
    """Trust the identity headers; for development only."""

    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict,
                 start_response: StartResponse) -> Iterable[bytes]:
        user_id = environ.get("HTTP_X_USER_ID", "").strip()
        project_id = environ.get("HTTP_X_PROJECT_ID", "").strip()
        if not user_id or not project_id:
            raise exception.NotAuthorized(
                "auth_strategy is noauth: send X-User-Id and X-Project-Id.")
        environ[wsgi_util.IDENTITY_KEY] = Identity(
            user_id, project_id, parse_roles(environ.get("HTTP_X_ROLES", "")))
        return self.application(environ, start_response)


class TokenAuth:
    """Authenticate ``X-Auth-Token`` against a :class:`TokenStore`."""

    def __init__(self, application: Callable, store: "TokenStore") -> None:
        self.application = application
        self.store = store

    def __call__(self, environ: dict,
                 start_response: StartResponse) -> Iterable[bytes]:
        strip_identity_headers(environ)
        token = environ.get(TOKEN_HEADER, "").strip()
        if not token:
            raise exception.NotAuthorized("Send a token in X-Auth-Token.")
        identity = self.store.lookup(token)
        if identity is None:
            LOG.info("rejected an unknown token from %s",
                     environ.get("REMOTE_ADDR", "?"))
            raise exception.NotAuthorized("The token is not valid.")
        environ[wsgi_util.IDENTITY_KEY] = identity
        return self.application(environ, start_response)


def strip_identity_headers(environ: dict) -> None:
    """Remove every client-sent identity header from ``environ``."""
    for key in [k for k in environ if k.startswith(IDENTITY_HEADER_PREFIXES)]:
        del environ[key]


class TokenStore:
    """sha256 digests of tokens and their identities, from ``path``.

    The file is stat'ed on each lookup and re-read when its modification
    time, size or inode changes (``token create`` appends; an operator may
    replace the file). A missing or unreadable file holds no tokens.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._tokens: dict[str, Identity] = {}

    def lookup(self, token: str) -> Identity | None:
        """Return the identity of ``token``, or None if it is unknown."""
        self._refresh()
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        return self._tokens.get(digest)

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
        except OSError as exc:
            if self._stamp != _MISSING:
                LOG.warning("token file %s: %s; every token is refused",
                            self.path, exc.strerror)
                self._stamp, self._tokens = _MISSING, {}
            return
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp != self._stamp:
            self._tokens = self._read()
            self._stamp = stamp

    def _read(self) -> dict[str, Identity]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                lines = handle.readlines()
        except (OSError, UnicodeDecodeError) as exc:
            LOG.error("cannot read token file %s: %s; every token is "
                      "refused", self.path, exc)
            return {}
        tokens = {}
        for number, line in enumerate(lines, start=1):
            entry = _parse_line(line)
            if entry is None:
                if line.strip() and not line.lstrip().startswith("#"):
                    LOG.warning("token file %s: line %d is malformed; "
                                "skipped", self.path, number)
                continue
            tokens[entry[0]] = entry[1]
        LOG.info("loaded %d tokens from %s", len(tokens), self.path)
        return tokens


def _parse_line(line: str) -> tuple[str, Identity] | None:
    fields = line.split()
    if len(fields) not in (3, 4) or not _DIGEST.match(fields[0]):
        return None
    roles = parse_roles(fields[3]) if len(fields) == 4 else ()
    return fields[0], Identity(fields[1], fields[2], roles)
