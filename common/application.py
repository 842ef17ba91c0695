"""Applications: what a team builds on capstan, declared in one place.

An application is one :class:`Application` object, found through the
``capstan.applications`` entry-point group of its distribution::

    entry_points={"capstan.applications": [
        "echo = mypkg.application:APPLICATION"]}

It declares everything the framework needs to run it: its config options,
its topics and their Managers, its REST routes, its policy defaults, its
alembic branch and its plugin namespaces. The framework never imports an
application by name: ``api-server``, ``worker --topic T``,
``capstan-manage`` and ``--all-in-one`` ask :func:`load_applications`.

The declaration is plain data and functions: building it opens nothing,
registers nothing and imports the application's heavy modules only when
the framework calls one of its hooks (``add_routes`` runs in the API
process, a Manager path is imported by the worker that serves its topic).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Iterable

LOG = logging.getLogger(__name__)

NAMESPACE = "capstan.applications"

# add_routes(mapper, deps, policy): connect the application's REST routes
# (capstan.api.router.Routes helpers) on the /v1 mapper.
AddRoutes = Callable[[Any, Any, Any], None]


@dataclasses.dataclass(frozen=True)
class Topic:
    """An RPC topic an application serves, and its default Manager.

    ``worker --topic <name>`` runs ``manager`` (a dotted path), which the
    operator may replace with ``[DEFAULT] <name>_manager``.
    """

    name: str
    manager: str
    help: str = ""


@dataclasses.dataclass(frozen=True)
class Application:
    """One application's declaration (see the module docstring).

    ``options`` returns ``[(group, [Opt, ...]), ...]`` like an
    ``oslo.config.opts`` hook; ``policies`` returns oslo.policy
    ``RuleDefault``s; ``migrations`` is the directory of the application's
    alembic revisions (its own branch, labelled ``name``); ``models`` the
    dotted name of the module declaring its tables on
    ``capstan.common.db.models.Base`` (imported by the migration
    environment, so that ``alembic revision --autogenerate`` sees them);
    ``topics`` are
    started by ``--all-in-one`` in the order given; ``resources`` returns
    its REST resources (``capstan.api.resource.Resource``), whose routes,
    policy rules and OpenAPI paths the framework makes; ``add_routes``
    connects any other REST routes under ``/v1`` and ``openapi`` returns
    their OpenAPI paths (``{path: path item}``); ``plugin_namespaces`` are the entry-point
    groups of the application's drivers, filters and weighers;
    ``scheduler_topic`` names the topic whose Managers place the
    application's resources (a subclass of
    ``capstan.worker.scheduler.manager.SchedulerManagerBase``): the API
    fans the host aggregates out to it whenever they change.
    """

    name: str
    topics: tuple[Topic, ...] = ()
    options: Callable[[], list[tuple[str, list]]] | None = None
    policies: Callable[[], list] | None = None
    resources: Callable[[], list] | None = None
    add_routes: AddRoutes | None = None
    openapi: Callable[[], dict] | None = None
    migrations: str | None = None
    models: str | None = None
    plugin_namespaces: tuple[str, ...] = ()
    scheduler_topic: str | None = None
    # A path under /v1 that the all-in-one start-up line shows as a first
    # call to try.
    example_path: str = ""

    def list_opts(self) -> list[tuple[str, list]]:
        return self.options() if self.options else []

    def list_resources(self) -> list:
        return self.resources() if self.resources else []

    def list_policies(self) -> list:
        """The rules of its resources, then its other rules."""
        rules = [rule for resource in self.list_resources()
                 for rule in resource.policy_rules()]
        return rules + (self.policies() if self.policies else [])

    def openapi_paths(self) -> dict:
        return self.openapi() if self.openapi else {}


def load_applications(names: Iterable[str] | None = None
                      ) -> list[Application]:
    """The installed applications, by entry-point name order.

    ``names`` keeps only those (in that order); an unknown name raises
    LookupError naming the installed ones.
    """
    from stevedore import extension

    manager = extension.ExtensionManager(NAMESPACE, invoke_on_load=False,
                                         on_load_failure_callback=_failed)
    found = {ext.name: ext.plugin for ext in manager}
    for name, plugin in found.items():
        if not isinstance(plugin, Application):
            raise TypeError(f"entry point {name!r} of {NAMESPACE} is not a "
                            f"capstan Application: {plugin!r}")
    if names is None:
        return [found[name] for name in sorted(found)]
    missing = [name for name in names if name not in found]
    if missing:
        raise LookupError(f"no application {', '.join(missing)} installed "
                          f"(installed: {', '.join(sorted(found)) or 'none'})")
    return [found[name] for name in names]


def topics(applications: Iterable[Application]) -> list[Topic]:
    """Every topic of ``applications``, in declaration order."""
    return [topic for app in applications for topic in app.topics]


def scheduler_topics(applications: Iterable[Application]) -> list[str]:
    """The scheduler topics of ``applications``, each once, in order."""
    return list(dict.fromkeys(app.scheduler_topic for app in applications
                              if app.scheduler_topic))


def _failed(manager: Any, entrypoint: Any, exc: BaseException) -> None:
    # NOTE(capstan): stevedore only logs a plugin that fails to import; an
    # application that cannot load must stop the process, not vanish.
    raise RuntimeError(f"cannot load application {entrypoint.name!r}: "
                       f"{exc}") from exc
