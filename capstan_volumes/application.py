"""The volume application, declared in one place for the framework.

Found through the entry point ``capstan.applications: capstan_volumes``
(setup.py). Nothing here is imported before the framework asks for it:
the routes load in the API process, each Manager in the worker of its
topic.
"""
from __future__ import annotations

import os
from typing import Any

from capstan.common.application import Application, Topic

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "migrations", "versions")


def _options() -> list:
    from capstan_volumes import options

    return options.list_opts()


def _policies() -> list:
    from capstan_volumes import policies

    return list(policies.RULES)


def _resources() -> list:
    from capstan_volumes.api.snapshots import SNAPSHOTS
    from capstan_volumes.api.volumes import VOLUMES

    return [VOLUMES, SNAPSHOTS]


def _openapi() -> dict:
    from capstan_volumes.api import scheduler_stats

    return scheduler_stats.OPENAPI


def _add_routes(mapper: Any, deps: Any, policy: Any) -> None:
    from capstan_volumes.api import routes

    routes.add_routes(mapper, deps, policy)


APPLICATION = Application(
    name="capstan_volumes",
    # NOTE(capstan): --all-in-one starts them in this order: the volume
    # worker consumes before the scheduler starts, so the scheduler's
    # start-up fanout ("report now") reaches it and the first placement
    # already sees this host.
    topics=(
        Topic("volume", "capstan_volumes.volume.manager.VolumeManager",
              help="Manager class run by 'worker --topic volume'."),
        Topic("scheduler",
              "capstan_volumes.scheduler.manager.SchedulerManager",
              help="Manager class run by 'worker --topic scheduler'."),
    ),
    options=_options,
    policies=_policies,
    resources=_resources,
    add_routes=_add_routes,
    openapi=_openapi,
    migrations=MIGRATIONS,
    models="capstan_volumes.models",
    plugin_namespaces=("capstan.volume.drivers",),
    # Its SchedulerManager stands on the framework's SchedulerManagerBase:
    # the host aggregates reach it.
    scheduler_topic="scheduler",
    example_path="/volumes",
)
