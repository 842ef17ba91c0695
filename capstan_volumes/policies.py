"""Who may do what with volumes: the application's oslo.policy defaults
(entry point ``oslo.policy.policies``: ``capstan_volumes``)."""
from __future__ import annotations

from oslo_policy import policy

from capstan.api.policy import ADMIN, OWNER_OR_ADMIN, documented_rule

RULES = [
    documented_rule("volumes:create", OWNER_OR_ADMIN, "Create a volume.",
                    "POST", "/v1/volumes"),
    documented_rule("volumes:get_all", OWNER_OR_ADMIN, "List volumes.",
                    "GET", "/v1/volumes"),
    documented_rule("volumes:get", OWNER_OR_ADMIN, "Show a volume.",
                    "GET", "/v1/volumes/{id}"),
    documented_rule("volumes:delete", OWNER_OR_ADMIN, "Delete a volume.",
                    "DELETE", "/v1/volumes/{id}"),
    documented_rule("volumes:extend", OWNER_OR_ADMIN, "Extend a volume.",
                    "POST", "/v1/volumes/{id}/action"),
    documented_rule("scheduler_stats:pools", ADMIN,
                    "List the scheduler's pools.", "GET",
                    "/v1/scheduler-stats/pools"),
]


def list_rules() -> list[policy.RuleDefault]:
    """The volume application's rules with their defaults."""
    return list(RULES)
