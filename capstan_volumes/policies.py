"""Who may do what: the application's oslo.policy defaults (entry point
``oslo.policy.policies``: ``capstan_volumes``). The rules of its REST
resources (``volumes:*``) come from their declarations; this module adds
the others."""
from __future__ import annotations

from oslo_policy import policy

from capstan.api.policy import ADMIN, documented_rule

RULES = [
    documented_rule("scheduler_stats:pools", ADMIN,
                    "List the scheduler's pools.", "GET",
                    "/v1/scheduler-stats/pools"),
]


def list_rules() -> list[policy.RuleDefault]:
    """The application's rules with their defaults, its resources' first
    (what ``oslopolicy-sample-generator`` lists)."""
    from capstan_volumes.application import APPLICATION

    return APPLICATION.list_policies()
