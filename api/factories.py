"""Paste factories for etc/api-paste.ini, and :func:`load_app`.

Each factory is a thin adapter: it takes the :class:`~api.deps.APIDeps`
from ``global_conf["capstan_deps"]``, checks the options of its section
and calls a plain builder. Nothing here holds state between loads or reads
a config at import time.

NOTE(capstan): PasteDeploy's ``loadapp(..., global_conf={...})`` cannot
carry an object: it copies global_conf into the parser's defaults and
interpolates them as strings, which fails on anything but ``str``.
:func:`load_app` therefore uses PasteDeploy's ``ConfigLoader`` directly and
passes the deps down the ``global_conf`` of the contexts, which PasteDeploy
hands unchanged to every factory, composite and ``loader.get_app()``.
"""
from __future__ import annotations

import configparser
import os
import types
from typing import Any, Callable

from paste.deploy import loadwsgi

from capstan.api import healthcheck, paste_errors, router
from capstan.api.deps import APIDeps
from capstan.api.middleware import auth, context, fault, oslo_filters
from capstan.common import exception

DEPS_KEY = "capstan_deps"
# The keys of the auth composite: the choices of [api] auth_strategy.
AUTH_STRATEGIES = ("noauth", "token")

WSGIApp = Callable[..., Any]
Filter = Callable[[WSGIApp], WSGIApp]


def load_app(path: str, name: str, deps: APIDeps) -> WSGIApp:
    """Load app ``name`` of the paste file ``path``, built on ``deps``.

    Raises PasteConfigError, with a one-line message naming the file and
    the section, when the file is missing or broken, names a section that
    does not exist, or points at a factory that cannot be imported or
    rejects its options. A broken policy file raises ConfigError.
    """
    path = os.path.abspath(path)
    try:
        loader = loadwsgi.ConfigLoader(path)
        app_context = loader.get_context(loadwsgi.APP, name,
                                         global_conf={DEPS_KEY: deps})
        return app_context.create()
    except (LookupError, ImportError, AttributeError, OSError,
            configparser.Error, paste_errors.FactoryError) as exc:
        if not paste_errors.is_config_error(exc):
            raise
        raise exception.PasteConfigError(
            name=name, path=path,
            reason=paste_errors.describe(exc, path)) from exc


# -- apps --------------------------------------------------------------


def versions_app_factory(global_conf: dict, **local_conf: str) -> WSGIApp:
    """[app:versions_app]: GET / lists the API versions."""
    _options(versions_app_factory, local_conf)
    return router.build_versions_app(_deps(global_conf, versions_app_factory))


def healthcheck_app_factory(global_conf: dict, **local_conf: str) -> WSGIApp:
    """[app:healthcheck_app]: option ``timeout`` (seconds, broker check)."""
    options = _options(healthcheck_app_factory, local_conf, "timeout")
    timeout = _number(healthcheck_app_factory, "timeout",
                      options.get("timeout", "2"), float)
    return healthcheck.build_healthcheck_app(
        _deps(global_conf, healthcheck_app_factory), timeout)


def v1_app_factory(global_conf: dict, **local_conf: str) -> WSGIApp:
    """[app:v1_app]: the v1 resources."""
    _options(v1_app_factory, local_conf)
    return router.build_v1_app(_deps(global_conf, v1_app_factory))


def auth_pipeline_factory(loader: loadwsgi.ConfigLoader, global_conf: dict,
                          **local_conf: str) -> WSGIApp:
    """[composite:v1]: the pipeline named by ``[api] auth_strategy``."""
    _options(auth_pipeline_factory, local_conf, *AUTH_STRATEGIES)
    strategy = _deps(global_conf, auth_pipeline_factory).conf.api.auth_strategy
    names = local_conf.get(strategy, "").split()
    if not names:
        raise paste_errors.FactoryError(
            auth_pipeline_factory,
            f"no pipeline '{strategy} = ...' for [api] auth_strategy "
            f"{strategy}")
    app = loader.get_app(names[-1], global_conf=global_conf)
    for filter_name in reversed(names[:-1]):
        app = loader.get_filter(filter_name, global_conf=global_conf)(app)
    return app


# -- filters -----------------------------------------------------------


def request_id_filter_factory(global_conf: dict, **local_conf: str) -> Filter:
    """[filter:request_id]: oslo.middleware's RequestId."""
    _options(request_id_filter_factory, local_conf)
    return oslo_filters.build_request_id


def faultwrap_filter_factory(global_conf: dict, **local_conf: str) -> Filter:
    """[filter:faultwrap]: exceptions to JSON error responses."""
    _options(faultwrap_filter_factory, local_conf)
    return fault.FaultWrapper


def sizelimit_filter_factory(global_conf: dict, **local_conf: str) -> Filter:
    """[filter:sizelimit]: option ``max_request_body_size`` (bytes)."""
    options = _options(sizelimit_filter_factory, local_conf,
                       "max_request_body_size")
    limit = _number(sizelimit_filter_factory, "max_request_body_size",
                    options.get("max_request_body_size",
                                oslo_filters.DEFAULT_MAX_REQUEST_BODY_SIZE),
                    int)
    return lambda app: oslo_filters.build_sizelimit(app, limit)


def noauth_filter_factory(global_conf: dict, **local_conf: str) -> Filter:
    """[filter:noauth]: identity from X-User-Id/X-Project-Id/X-Roles."""
    _options(noauth_filter_factory, local_conf)
    return auth.NoAuth


def token_auth_filter_factory(global_conf: dict, **local_conf: str) -> Filter:
    """[filter:tokenauth]: X-Auth-Token against ``[api] token_file``."""
    _options(token_auth_filter_factory, local_conf)
    deps = _deps(global_conf, token_auth_filter_factory)
    store = auth.TokenStore(deps.conf.api.token_file)
    return lambda app: auth.TokenAuth(app, store)


def context_filter_factory(global_conf: dict, **local_conf: str) -> Filter:
    """[filter:context]: the RequestContext in environ["capstan.context"]."""
    _options(context_filter_factory, local_conf)
    return context.ContextMiddleware


# -- helpers -----------------------------------------------------------


def _deps(global_conf: dict, factory: types.FunctionType) -> APIDeps:
    deps = global_conf.get(DEPS_KEY)
    if not isinstance(deps, APIDeps):
        raise paste_errors.FactoryError(
            factory, "no APIDeps in global_conf; load the file with "
                     "capstan.api.factories.load_app()")
    return deps


def _options(factory: types.FunctionType, local_conf: dict,
             *allowed: str) -> dict:
    unknown = sorted(set(local_conf) - set(allowed))
    if unknown:
        raise paste_errors.FactoryError(
            factory, f"unknown option(s) {', '.join(unknown)}; allowed: "
                     f"{', '.join(allowed) or 'none'}")
    return local_conf


def _number(factory: types.FunctionType, option: str, value: Any,
            kind: type) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number <= 0:
        raise paste_errors.FactoryError(
            factory, f"{option} must be a positive number, not {value!r}")
    return number
