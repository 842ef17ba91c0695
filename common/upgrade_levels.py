"""Upgrade levels: the highest RPC version a topic's services understand.

During a rolling upgrade new clients run beside old services. Each
service records the version its Manager serves (``services.rpc_version``);
a client asks :meth:`UpgradeLevels.cap` before it sends, and refuses a
message newer than the cap instead of letting an old service drop it
(:class:`capstan.common.rpcapi.RPCAPI`). The cap of a topic is

* ``[upgrade_levels] <topic>`` when set to a version (a pin: the operator
  knows best, e.g. before the new services register);
* else (``auto``, the default) the lowest version among the topic's live
  records that are up; when none is up, among all its live records (a
  topic that is down for a moment keeps its cap); with no record at all,
  no cap: the newest version is sent.

NOTE(capstan): an automatic cap is cached for ``[upgrade_levels]
auto_cache_seconds`` (:data:`CAP_CACHE_SECONDS` by default) so that a
cast costs no query (but "no record yet" is not: it is read
again on the next cast); an upgraded service is used at its new
version at most that long after it registers. The cache is guarded by a
plain ``threading.Lock`` (green under the monkey patch, a real lock under
real threads) and the query runs outside it: two threads that miss at once
both query, and both write the same answer.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterable

from oslo_config import cfg
from sqlalchemy import exc as sa_exc

from capstan.common import exception, records, rpc_versions
from capstan.common.db.services import Services

# The group and the value of "automatic" of the options that
# capstan.common.config declares (upgrade_levels_opts).
GROUP = "upgrade_levels"
AUTO = "auto"
# Seconds an automatic cap is reused before the records are read again
# (the default of [upgrade_levels] auto_cache_seconds).
CAP_CACHE_SECONDS = 30.0
CACHE_OPTION = "auto_cache_seconds"
# What a record without rpc_version counts as: every capstan interface
# was at 1.0 before services recorded their versions (revision c0004).
UNRECORDED_VERSION = "1.0"


class UpgradeLevels:
    """The version cap of each topic, pinned in config or read from the
    service records (``services``; None reads nothing: no automatic cap).

    One per process is enough; every RPC client of the process may share
    it, and with it the cache.
    """

    def __init__(self, conf: cfg.ConfigOpts, services: Services | None, *,
                 ttl: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.conf = conf
        self.services = services
        self.ttl = ttl if ttl is not None else _cache_seconds(conf)
        self._clock = clock
        self._lock = threading.Lock()
        # topic -> (cap, monotonic time it was read)
        self._cache: dict[str, tuple[str | None, float]] = {}

    def cap(self, topic: str) -> str | None:
        """The highest version ``topic``'s services take; None: any."""
        pinned = self._configured(topic)
        if pinned != AUTO:
            return pinned
        if self.services is None:
            return None
        now = self._clock()
        with self._lock:
            cached = self._cache.get(topic)
        if cached is not None and now - cached[1] < self.ttl:
            return cached[0]
        try:
            cap = self._read_cap(topic)
        except (exception.ServiceUnavailable, sa_exc.SQLAlchemyError):
            if cached is not None:
                return cached[0]  # stale beats no answer while the DB is away
            raise
        if cap is None:
            # No record yet (services still starting): not cached, so the
            # first service to register sets the cap at once, and an old
            # one is never sent a newer message for a whole TTL.
            return None
        with self._lock:
            self._cache[topic] = (cap, now)
        return cap

    def forget(self, topic: str | None = None) -> None:
        """Drop the cached cap of ``topic`` (every topic by default)."""
        with self._lock:
            if topic is None:
                self._cache.clear()
            else:
                self._cache.pop(topic, None)

    def _configured(self, topic: str) -> str:
        try:
            return getattr(getattr(self.conf, GROUP), topic) or AUTO
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
            # A topic no application declares (``worker --topic T`` with
            # ``[DEFAULT] T_manager``): automatic.
            return AUTO

    def _read_cap(self, topic: str) -> str | None:
        rows = self.services.get_rpc_versions(topic)
        since = records.up_since(self.services.db.now(),
                                 self.conf.service_down_time)
        up = [row for row in rows if records.is_up_since(row, since)]
        return lowest(row.rpc_version or UNRECORDED_VERSION
                      for row in (up or rows))


def lowest(versions: Iterable[str]) -> str | None:
    """The lowest of ``versions``; None when there is none."""
    parsed = sorted(rpc_versions.parse(version) for version in versions)
    return "%d.%d" % parsed[0] if parsed else None


def _cache_seconds(conf: cfg.ConfigOpts) -> float:
    try:
        return getattr(getattr(conf, GROUP), CACHE_OPTION)
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
        return CAP_CACHE_SECONDS  # options not registered (a bare conf)
