"""Who may do what: oslo.policy rules with their defaults in code.

An operator overrides any rule in ``policy.yaml`` (``[oslo_policy]
policy_file``, looked up next to the config files); oslo.policy re-reads it
when it changes. ``oslopolicy-sample-generator --namespace capstan`` prints
every rule with its default.
"""
from __future__ import annotations

from typing import Any

import yaml
from oslo_config import cfg
from oslo_policy import policy

from capstan.common import application, config, exception
from capstan.common.context import RequestContext

ADMIN = "rule:admin_api"
OWNER_OR_ADMIN = "rule:owner_or_admin"

BASE_RULES = [
    policy.RuleDefault("admin_api", "role:admin",
                       description="The caller has the admin role."),
    policy.RuleDefault("owner_or_admin",
                       "rule:admin_api or project_id:%(project_id)s",
                       description="The caller is an admin or belongs to "
                                   "the project owning the resource."),
]


def documented_rule(name: str, check: str, description: str, method: str,
                    path: str) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name, check, description, [{"method": method, "path": path}])


OPERATION_RULES = [
    documented_rule("services:list", ADMIN, "List services with their state.",
                    "GET", "/v1/services"),
    documented_rule("services:update", ADMIN, "Enable, disable or force down a "
                    "service.", "PUT", "/v1/services/{id}"),
    documented_rule("services:delete", ADMIN, "Delete a service record.",
                    "DELETE", "/v1/services/{id}"),
    documented_rule("aggregates:list", ADMIN, "List host aggregates.",
                    "GET", "/v1/os-aggregates"),
    documented_rule("aggregates:create", ADMIN, "Create a host aggregate.",
                    "POST", "/v1/os-aggregates"),
    documented_rule("aggregates:show", ADMIN, "Show a host aggregate.",
                    "GET", "/v1/os-aggregates/{id}"),
    documented_rule("aggregates:add_host", ADMIN, "Add a host to an "
                    "aggregate.", "POST", "/v1/os-aggregates/{id}/action"),
    documented_rule("aggregates:remove_host", ADMIN, "Remove a host from an "
                    "aggregate.", "POST", "/v1/os-aggregates/{id}/action"),
    documented_rule("aggregates:set_metadata", ADMIN, "Set or delete keys "
                    "of an aggregate's metadata.", "POST",
                    "/v1/os-aggregates/{id}/action"),
    documented_rule("aggregates:delete", ADMIN, "Delete a host aggregate "
                    "without hosts.", "DELETE", "/v1/os-aggregates/{id}"),
]


def list_rules() -> list[policy.RuleDefault]:
    """The framework's rules with their defaults (entry point
    ``oslo.policy.policies``); each application lists its own."""
    return BASE_RULES + OPERATION_RULES


class Policy:
    """Authorize a RequestContext for one rule; 403 when denied."""

    def __init__(self, conf: cfg.ConfigOpts,
                 rules: list[policy.RuleDefault] = ()) -> None:
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(list_rules() + list(rules))

    def check_file(self) -> None:
        """Load the policy file now, so a broken one fails at start-up."""
        try:
            self._enforcer.load_rules()
        except (ValueError, yaml.YAMLError) as exc:
            raise config.ConfigError(
                f"invalid policy file {self._enforcer.policy_path}: "
                f"{_first_line(exc)}") from None

    def authorize(self, context: RequestContext, rule: str,
                  target: dict[str, Any] | None = None) -> None:
        """Raise Forbidden unless ``rule`` allows ``context`` on ``target``.

        The default target is the caller's own project, which is what
        ``owner_or_admin`` compares to for collection operations.
        """
        if target is None:
            target = {"project_id": context.project_id,
                      "user_id": context.user_id}
        if not self._enforcer.authorize(rule, target, context):
            raise exception.Forbidden(f"Policy does not allow {rule}.")


def build_policy(conf: cfg.ConfigOpts,
                 rules: list[policy.RuleDefault] | None = None) -> Policy:
    """Build the Policy of the API and check its policy file.

    It holds the framework's rules and ``rules``, the applications' (by
    default those of the installed applications).
    """
    if rules is None:
        rules = [rule for app in application.load_applications()
                 for rule in app.list_policies()]
    enforcer = Policy(conf, rules)
    enforcer.check_file()
    return enforcer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
