"""What the REST application needs from the process that serves it.

``api-server`` builds one :class:`APIDeps` and hands it to
:func:`capstan.api.factories.load_app`; every paste factory takes what it needs from
it. Nothing in ``api/`` builds a config, an engine or a transport itself.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import oslo_messaging
from oslo_config import cfg

from capstan.common import application
from capstan.common.db.aggregates import Aggregates
from capstan.common.db.api import Database
from capstan.common.db.services import Services
from capstan.common.upgrade_levels import UpgradeLevels


@dataclasses.dataclass
class APIDeps:
    """The config, database, RPC transport and applications shared by the
    whole API, the queries of the framework's resources (service records,
    aggregates; by default, over ``db``) and the RPC version caps every
    client of the process shares (by default, from ``conf`` and the
    service records)."""

    conf: cfg.ConfigOpts
    db: Database
    transport: oslo_messaging.Transport
    applications: list[application.Application] = dataclasses.field(
        default_factory=application.load_applications)
    # None: the real queries over ``db``, built below (a test passes a fake).
    services: Services | None = None
    aggregates: Aggregates | None = None
    upgrade_levels: UpgradeLevels | None = None

    def __post_init__(self) -> None:
        if self.services is None:
            self.services = Services(self.db)
        if self.aggregates is None:
            self.aggregates = Aggregates(self.db)
        if self.upgrade_levels is None:
            self.upgrade_levels = UpgradeLevels(self.conf, self.services)

    def client(self, rpcapi_class: type) -> Any:
        """An rpcapi client for REST requests: the API's finite retry
        (``[DEFAULT] rpc_client_retry``) and the process's version caps."""
        return rpcapi_class(self.transport,
                            retry=self.conf.rpc_client_retry,
                            upgrade_levels=self.upgrade_levels)
