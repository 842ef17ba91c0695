"""The cluster and the bookkeeping of the fault tests (test_faults.py).

:class:`FaultCluster` runs one ``api-server`` (noauth on loopback), one
``worker --topic scheduler`` and volume workers with the file driver
(tests/integration/fault_drivers.py: its capacity is capacity_gb, whatever
the disk holds), each on its own config file in tmp_path, like
tests/integration/test_volumes.py:

    host    capacity_gb  availability_zone
    vol-a       100            az1
    vol-b       120            az1
    vol-c       150            az2

room for every 1 GiB create a test sends (the files are sparse).

``[oslo_messaging_rabbit]`` is left alone: the tests exercise capstan's
defaults for rabbit:// (common/config.py).

:func:`count` is the one place that decides what became of the creates a
test sent: every fault test ends with it and :func:`assert_nothing_lost`.
:mod:`tests.integration.outages` stops and starts the shared RabbitMQ and
PostgreSQL servers.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import pathlib
import re
import time
from typing import Any, Iterable

import requests

from tests.integration import procs

HTTP_TIMEOUT = 60
LISTENING = r"listening on (http://\S+)"
TRANSITIONAL = ("creating", "deleting", "extending")
# Headers of an admin under noauth: every project's volumes are visible.
ADMIN = {"X-User-Id": "faults", "X-Project-Id": "faults",
         "X-Roles": "admin", "Connection": "close"}
# Where each test's figures go, one JSON object per line, when set.
FIGURES_ENV = "CAPSTAN_FAULT_FIGURES"
DRIVERS = "tests.integration.fault_drivers"


@dataclasses.dataclass(frozen=True)
class VolumeHost:
    host: str
    capacity_gb: int
    zone: str


HOSTS = (VolumeHost("vol-a", 100, "az1"),
         VolumeHost("vol-b", 120, "az1"),
         VolumeHost("vol-c", 150, "az2"))


@dataclasses.dataclass
class Created:
    """What the API answered to one POST /v1/volumes."""

    status: int | None          # None: no answer (connection error)
    volume_id: str | None
    elapsed: float
    detail: str = ""
    started: float = 0.0        # time.monotonic() when it was sent


class FaultCluster:
    """One test's config files, processes and REST client."""

    def __init__(self, tmp_path: pathlib.Path, db_url: str,
                 transport_url: str, *, hosts: Iterable[str] | None = None,
                 options: dict[str, dict[str, Any]] | None = None,
                 host_options: dict[str, dict[str, dict]] | None = None,
                 paste_config: str | None = None) -> None:
        self.tmp_path = tmp_path
        self.db_url = db_url
        self.transport_url = transport_url
        self.hosts = [h for h in HOSTS if hosts is None or h.host in hosts]
        self.options = options or {}
        self.host_options = host_options or {}
        self.paste_config = paste_config
        self.procs = procs.ProcGroup(tmp_path)
        self.configs: dict[str, str] = {}
        self.api: procs.Proc | None = None
        self.scheduler: procs.Proc | None = None
        self.workers: dict[str, procs.Proc] = {}
        self.base_url = ""

    # -- configuration and processes ---------------------------------------

    def pool_path(self, host: str) -> pathlib.Path:
        return self.tmp_path / "pools" / host

    def write_config(self, name: str, host: str,
                     extra: dict[str, dict] | None = None) -> str:
        sections: dict[str, dict[str, Any]] = {
            "DEFAULT": {
                "host": host, "transport_url": self.transport_url,
                "state_path": self.tmp_path / "state",
                "report_interval": 1,
                # Long enough for a SIGSTOPped worker to stay a valid
                # host while a test places a hundred volumes on it.
                "service_down_time": 30,
                "periodic_interval": 1, "periodic_fuzzy_delay": 0,
                "graceful_shutdown_timeout": 30,
                "volume_driver": f"{DRIVERS}.RoomyDriver"},
            "database": {"connection": self.db_url},
            "api": {"bind_host": "127.0.0.1", "bind_port": 0,
                    "auth_strategy": "noauth"},
            "file_driver": {"max_over_subscription_ratio": 1.0},
            # Lost casts are re-sent after 15 s rather than 60.
            "scheduler": {"resend_after": 15},
        }
        if self.paste_config:
            sections["api"]["paste_config"] = self.paste_config
        for extra_sections in (self.options, extra or {}):
            for section, values in extra_sections.items():
                sections.setdefault(section, {}).update(values)
        path = self.tmp_path / f"capstan-{name}.conf"
        procs.write_config(path, sections)
        self.configs[name] = str(path)
        return str(path)

    def start(self) -> None:
        self.write_config("api", "api")
        self.write_config("scheduler", "sched")
        for spec in self.hosts:
            extra = {"DEFAULT": {"availability_zone": spec.zone},
                     "file_driver": {"pool_path": self.pool_path(spec.host),
                                     "capacity_gb": spec.capacity_gb}}
            for section, values in self.host_options.get(spec.host,
                                                         {}).items():
                extra.setdefault(section, {}).update(values)
            self.write_config(spec.host, spec.host, extra)
        result = procs.run("capstan-manage",
                           ["--config-file", self.configs["api"], "db",
                            "sync"])
        assert result.returncode == 0, result.stderr
        self.api = self.start_api()
        self.scheduler = self.procs.start(
            "worker", ["--topic", "scheduler", "--config-file",
                       self.configs["scheduler"]], "scheduler.log")
        for spec in self.hosts:
            self.workers[spec.host] = self.start_worker(spec.host)
        self.wait_api(self.api)
        self.scheduler.wait_for_log(r"started, consuming scheduler\.")
        for proc in self.workers.values():
            proc.wait_for_log(r"started, consuming volume\.")
        self.wait(lambda: self.pools().keys() == {h.host for h in self.hosts},
                  "every volume host in the scheduler's pools")

    def start_api(self) -> procs.Proc:
        return self.procs.start(
            "api-server", ["--config-file", self.configs["api"]],
            f"api-server-{len(self.procs.procs)}.log")

    def wait_api(self, proc: procs.Proc) -> None:
        line = proc.wait_for_log(LISTENING)[-1]
        self.base_url = re.search(LISTENING, line).group(1)

    def start_worker(self, host: str) -> procs.Proc:
        return self.procs.start(
            "worker", ["--topic", "volume", "--config-file",
                       self.configs[host]],
            f"worker-{host}-{len(self.procs.procs)}.log")

    def restart_worker(self, host: str) -> procs.Proc:
        """SIGKILL the worker of ``host``; start it again, same config."""
        proc = self.procs.restart(
            self.workers[host], f"worker-{host}-{len(self.procs.procs)}.log")
        self.workers[host] = proc
        return proc

    def all_procs(self) -> list[procs.Proc]:
        return [p for p in (self.api, self.scheduler, *self.workers.values())
                if p is not None]

    def assert_all_running(self) -> None:
        dead = [p for p in self.all_procs() if not p.running()]
        assert not dead, "exited: " + "\n".join(
            f"{p!r} -> {p.returncode}\n{p.log_tail()}" for p in dead)

    def resends(self) -> int:
        """How many stuck creates the scheduler has re-sent so far."""
        return len(self.scheduler.log_lines(r"stuck in creating .* "
                                            r"re-sending"))

    def diagnose(self) -> str:
        return "\n".join(p.log_tail(15) for p in self.all_procs())

    def wait(self, predicate, what: str, timeout: float = procs.DEADLINE):
        return procs.wait_until(predicate, what=what, timeout=timeout,
                                interval=0.2, diagnose=self.diagnose)

    # -- REST ----------------------------------------------------------------

    def request(self, method: str, path: str, *,
                timeout: float = HTTP_TIMEOUT, **kwargs: Any
                ) -> requests.Response:
        url = path if path.startswith("http") else self.base_url + path
        return requests.request(method, url, headers=ADMIN,
                                timeout=timeout, **kwargs)

    def create(self, size: int = 1, **fields: Any) -> Created:
        """POST /v1/volumes; never raises for a refusal or a dead socket."""
        start = time.monotonic()
        try:
            response = self.request("POST", "/v1/volumes",
                                    json={"volume": {"size": size,
                                                     **fields}})
        except requests.RequestException as exc:
            return Created(None, None, time.monotonic() - start, repr(exc),
                           start)
        elapsed = time.monotonic() - start
        if response.status_code == 202:
            volume = response.json()["volume"]
            assert volume["status"] == "creating", volume
            return Created(202, volume["id"], elapsed, started=start)
        return Created(response.status_code, None, elapsed, response.text,
                       start)

    def create_many(self, count: int, *, parallel: int = 10,
                    pace: float = 0.0, **fields: Any) -> list[Created]:
        """``count`` creates, ``parallel`` at a time; with ``pace``, each
        of the parallel clients sends at most one per ``pace`` seconds."""
        def paced(_):
            created = self.create(**fields)
            time.sleep(max(0.0, pace - created.elapsed))
            return created

        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            return list(pool.map(paced, range(count)))

    def volumes(self) -> dict[str, dict]:
        """Every live volume of every project, by id (all pages)."""
        found: dict[str, dict] = {}
        url = "/v1/volumes?limit=1000&sort_key=id&sort_dir=asc"
        while url:
            response = self.request("GET", url)
            assert response.status_code == 200, response.text
            body = response.json()
            found.update((v["id"], v) for v in body["volumes"])
            url = body.get("next")
        return found

    def pools(self) -> dict[str, dict]:
        response = self.request("GET", "/v1/scheduler-stats/pools")
        assert response.status_code == 200, response.text
        return {pool["host"]: pool["capabilities"]
                for pool in response.json()["pools"]}

    def service(self, host: str, topic: str = "volume") -> dict:
        response = self.request("GET", "/v1/services",
                                params={"host": host, "topic": topic})
        assert response.status_code == 200, response.text
        (service,) = response.json()["services"]
        return service

    def backing_files(self) -> dict[str, list[str]]:
        """``{volume id: [hosts whose pool holds its file]}``."""
        found: dict[str, list[str]] = {}
        for spec in HOSTS:
            pool = self.pool_path(spec.host)
            for path in pool.glob("*.img") if pool.is_dir() else ():
                found.setdefault(path.stem, []).append(spec.host)
        return found


# -- what became of the creates -----------------------------------------------

@dataclasses.dataclass
class Tally:
    """The fate of the creates one test sent (see :func:`count`)."""

    accepted: int = 0        # answered 202, with an id
    available: int = 0
    error: int = 0
    stuck: int = 0           # still creating/deleting/extending
    lost: int = 0            # accepted, and then gone (404)
    duplicated: int = 0      # >1 file, or a file of an error/gone volume
    missing_file: int = 0    # available without its backing file
    refused: int = 0         # answered 503: not accepted
    refused_created: int = 0  # not accepted, yet not in error either
    failed: int = 0          # any other answer (500, no answer)
    details: dict[str, list] = dataclasses.field(default_factory=dict)

    def figures(self) -> dict[str, int]:
        return {k: v for k, v in dataclasses.asdict(self).items()
                if k != "details"}

    def note(self, kind: str, item: Any) -> None:
        self.details.setdefault(kind, []).append(item)


def count(cluster: FaultCluster, created: Iterable[Created], *,
          settle: float = procs.DEADLINE) -> Tally:
    """Wait up to ``settle`` s for the accepted creates to leave
    ``creating``, then count what became of every create and every file."""
    created = list(created)
    accepted = {c.volume_id for c in created if c.status == 202}

    def settled():
        volumes = cluster.volumes()
        busy = [i for i in accepted
                if volumes.get(i, {}).get("status") in TRANSITIONAL]
        return None if busy else volumes

    try:
        volumes = cluster.wait(settled, f"{len(accepted)} creates to settle",
                               timeout=settle)
    except procs.Timeout:
        volumes = cluster.volumes()  # counted as stuck below
    files = cluster.backing_files()
    tally = Tally(accepted=len(accepted),
                  refused=sum(c.status == 503 for c in created),
                  failed=sum(c.status not in (202, 503) for c in created))
    for c in created:
        if c.status not in (202, 503):
            tally.note("failed", (c.status, c.detail[:200]))
    for volume_id in sorted(accepted):
        _count_accepted(tally, volume_id, volumes.get(volume_id), files)
    for volume_id, volume in volumes.items():
        if volume_id not in accepted and volume["status"] != "error":
            tally.refused_created += 1
            tally.note("refused_created", (volume_id, volume["status"]))
    for volume_id, hosts in files.items():
        volume = volumes.get(volume_id)
        if (len(hosts) > 1 or volume is None or volume["status"] == "error"
                or hosts != [volume["host"]]):
            tally.duplicated += 1
            tally.note("duplicated", (volume_id, hosts,
                                      volume and volume["status"]))
    return tally


def _count_accepted(tally: Tally, volume_id: str, volume: dict | None,
                    files: dict[str, list[str]]) -> None:
    if volume is None:
        tally.lost += 1
        tally.note("lost", volume_id)
    elif volume["status"] == "available":
        tally.available += 1
        if volume_id not in files:
            tally.missing_file += 1
            tally.note("missing_file", volume_id)
    elif volume["status"] in TRANSITIONAL:
        tally.stuck += 1
        tally.note("stuck", (volume_id, volume["status"], volume["host"]))
    else:
        tally.error += 1
        tally.note("error", (volume_id, volume["fault"]))


def assert_nothing_lost(tally: Tally, *, all_available: bool = True) -> None:
    """Nothing stuck, duplicated, lost or failed; by default every
    accepted create reached ``available``."""
    problems = {k: tally.details.get(k) for k in (
        "stuck", "duplicated", "lost", "missing_file", "failed")
        if getattr(tally, k)}
    if all_available and tally.available != tally.accepted:
        problems["not available"] = tally.details.get("error")
    assert not problems, f"{tally.figures()}: {problems}"


def record(test: str, **figures: Any) -> None:
    """Print a test's figures; append them to $CAPSTAN_FAULT_FIGURES."""
    line = json.dumps({"test": test, **figures}, sort_keys=True)
    print(f"FAULT FIGURES {line}")
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
