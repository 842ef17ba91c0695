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

from capstan.common import config, exception
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


def _rule(name: str, check: str, description: str, method: str,
          path: str) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name, check, description, [{"method": method, "path": path}])


OPERATION_RULES = [
    _rule("services:list", ADMIN, "List services with their state.",
          "GET", "/v1/services"),
    _rule("services:update", ADMIN, "Enable, disable or force down a "
          "service.", "PUT", "/v1/services/{id}"),
    _rule("services:delete", ADMIN, "Delete a service record.",
          "DELETE", "/v1/services/{id}"),
    _rule("volumes:create", OWNER_OR_ADMIN, "Create a volume.",
          "POST", "/v1/volumes"),
    _rule("volumes:get_all", OWNER_OR_ADMIN, "List volumes.",
          "GET", "/v1/volumes"),
    _rule("volumes:get", OWNER_OR_ADMIN, "Show a volume.",
          "GET", "/v1/volumes/{id}"),
    _rule("volumes:delete", OWNER_OR_ADMIN, "Delete a volume.",
          "DELETE", "/v1/volumes/{id}"),
    _rule("volumes:extend", OWNER_OR_ADMIN, "Extend a volume.",
          "POST", "/v1/volumes/{id}/action"),
    _rule("scheduler_stats:pools", ADMIN, "List the scheduler's pools.",
          "GET", "/v1/scheduler-stats/pools"),
]


def list_rules() -> list[policy.RuleDefault]:
    """Every rule with its default (entry point ``oslo.policy.policies``)."""
    return BASE_RULES + OPERATION_RULES


class Policy:
    """Authorize a RequestContext for one rule; 403 when denied."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(list_rules())

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


def build_policy(conf: cfg.ConfigOpts) -> Policy:
    """Build the Policy of the API and check its policy file."""
    enforcer = Policy(conf)
    enforcer.check_file()
    return enforcer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
