"""GET /healthcheck: can this API process reach its database and broker?

Answers 200 ``{"status": "ok", "checks": {"database": "ok", "broker":
"ok"}}``, or 503 with the failed backend marked ``"unavailable"`` (and the
usual ``error`` document). It needs no authentication, so it says *which*
backend failed but never why: the reason goes to the log.

The broker check opens and closes one AMQP connection per host with a
short timeout and no retries; ``fake://`` is in-process and always fine.
"""
from __future__ import annotations

import logging
from typing import Callable

import amqp
import oslo_messaging
import webob
from oslo_config import cfg

from capstan.api import router, wsgi_util
from capstan.api.deps import APIDeps

LOG = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
NOT_CHECKED = "not checked"
RABBIT_DRIVERS = ("rabbit", "kombu")


class BrokerCheck:
    """Connect to the broker of ``[DEFAULT] transport_url`` once."""

    def __init__(self, conf: cfg.ConfigOpts, timeout: float) -> None:
        self.conf = conf
        self.timeout = timeout

    def __call__(self) -> str:
        url = oslo_messaging.TransportURL.parse(self.conf,
                                                self.conf.transport_url)
        if url.transport == "fake":
            return OK
        if url.transport not in RABBIT_DRIVERS:
            return NOT_CHECKED
        errors = []
        for host in url.hosts or [oslo_messaging.TransportHost()]:
            try:
                self._connect(host, url.virtual_host or "/")
                return OK
            except Exception as exc:  # noqa: BLE001 - any failure is "down"
                errors.append(f"{host.hostname}: {exc}")
        raise ConnectionError("; ".join(errors))

    def _connect(self, host: oslo_messaging.TransportHost,
                 virtual_host: str) -> None:
        # py-amqp directly: kombu's connect() retries after a 2 s sleep.
        hostname = host.hostname or "localhost"
        if ":" in hostname:
            hostname = f"[{hostname}]"  # an IPv6 address
        connection = amqp.Connection(
            host=f"{hostname}:{host.port or 5672}",
            userid=host.username or "guest",
            password=host.password or "guest", virtual_host=virtual_host,
            ssl=self.conf.oslo_messaging_rabbit.ssl,
            connect_timeout=self.timeout, read_timeout=self.timeout,
            write_timeout=self.timeout)
        try:
            connection.connect()  # a single attempt, no retries
        except BaseException:
            connection.collect()
            raise
        connection.close()


class HealthCheckController:
    """Run each check and report them together."""

    def __init__(self, checks: dict[str, Callable[[], str | None]]) -> None:
        self.checks = checks

    def check(self, req: webob.Request) -> webob.Response:
        """GET /healthcheck"""
        results = {name: self._run(name, check)
                   for name, check in self.checks.items()}
        failed = [name for name, result in results.items()
                  if result == UNAVAILABLE]
        if not failed:
            return wsgi_util.json_response({"status": OK, "checks": results})
        body = wsgi_util.error_body(
            503, f"Unavailable: {', '.join(failed)}.",
            wsgi_util.request_id_of(req.environ))
        body.update(status=UNAVAILABLE, checks=results)
        return wsgi_util.json_response(body, status=503)

    @staticmethod
    def _run(name: str, check: Callable[[], str | None]) -> str:
        try:
            return check() or OK
        except Exception as exc:  # noqa: BLE001 - any failure is "down"
            LOG.warning("healthcheck: %s unavailable: %s", name, exc)
            return UNAVAILABLE


def build_healthcheck_app(deps: APIDeps, timeout: float) -> router.Router:
    """The app at ``/healthcheck``; ``timeout`` bounds the broker check."""
    controller = HealthCheckController({
        "database": deps.db.ping,
        "broker": BrokerCheck(deps.conf, timeout),
    })
    mapper = router.routes_mapper()
    mapper.connect("/", handler=controller.check,
                   conditions={"method": ["GET", "HEAD"]})
    return router.Router(mapper)
