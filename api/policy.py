"""Who may do what: oslo.policy rules with their defaults in code.

An operator overrides any rule in ``policy.yaml`` (``[oslo_policy]
policy_file``, looked up next to the config files); oslo.policy re-reads it
when it changes. ``oslopolicy-sample-generator --namespace capstan`` prints
every rule with its default.

Decisions are cached (:class:`Policy`): evaluating a rule costs about as
much as the rest of a small request, and a client asks the same question
again and again.
"""
from __future__ import annotations

import collections
import threading
import time
from collections.abc import Hashable, Mapping
from typing import Any, Callable

import yaml
from oslo_config import cfg
from oslo_policy import _checks
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


#: Decisions kept at most: (rule, credentials, target) -> allowed.
CACHE_SIZE = 4096
#: Seconds between two looks at the policy files for changes.
CHECK_INTERVAL = 1.0

# Values of a target or of credentials that can be part of a cache key:
# these as they are, numbers with their type.
_PLAIN = frozenset([str, bytes, type(None)])
_NUMBERS = frozenset([bool, int, float])
# NOTE(capstan): checks whose answer depends only on the credentials, the
# target and the rules. A rule using anything else (http:, a plugin's
# check) is evaluated every time. oslo.policy exports only some of these
# classes from oslo_policy.policy; all of them live in _checks.
_PURE_CHECKS = (_checks.TrueCheck, _checks.FalseCheck, _checks.NotCheck,
                _checks.AndCheck, _checks.OrCheck, _checks.RuleCheck,
                _checks.RoleCheck, _checks.GenericCheck)


class Policy:
    """Authorize a RequestContext for one rule; 403 when denied.

    Decisions are kept in an LRU of ``cache_size`` entries, keyed by the
    rule, the context's policy values and the target. They live as long
    as the loaded rules: every ``check_interval`` seconds a check asks
    oslo.policy to re-read the policy files if they changed (it compares
    their mtimes), and a reload empties the cache.

    NOTE(capstan): oslo.policy alone looks for changes at every check:
    one stat per policy file and a search of the config directories for
    ``policy.d``, about 20-35 us, more than a cached decision. So an edited
    policy.yaml applies within ``check_interval`` instead of at once.
    """

    def __init__(self, conf: cfg.ConfigOpts,
                 rules: list[policy.RuleDefault] = (), *,
                 cache_size: int = CACHE_SIZE,
                 check_interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(list_rules() + list(rules))
        self._cache_size = cache_size
        self._check_interval = check_interval
        self._clock = clock
        self._next_check = 0.0
        self._decisions: collections.OrderedDict[Hashable, bool] = (
            collections.OrderedDict())
        self._cached_rules: Any = None  # the Rules the decisions came from
        self._pure: dict[str, bool] = {}
        self._lock = threading.Lock()

    @property
    def cached_decisions(self) -> int:
        """How many decisions the cache holds now."""
        return len(self._decisions)

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
        if not self._allowed(context, rule, target):
            raise exception.Forbidden(f"Policy does not allow {rule}.")

    def _allowed(self, context: RequestContext, rule: str,
                 target: dict[str, Any]) -> bool:
        rules = self._follow_rules()
        key = self._key(rules, context, rule, target)
        if key is None:
            return bool(self._enforcer.authorize(rule, target, context))
        with self._lock:
            allowed = self._decisions.get(key)
            if allowed is not None:
                self._decisions.move_to_end(key)
                return allowed
        allowed = bool(self._enforcer.authorize(rule, target, context))
        with self._lock:
            # Not if another thread saw the rules change meanwhile.
            if self._cached_rules is rules:
                self._decisions[key] = allowed
                if len(self._decisions) > self._cache_size:
                    self._decisions.popitem(last=False)
        return allowed

    def _follow_rules(self) -> Any:
        """The current rules; forget the decisions of earlier ones."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._check_interval
            self._enforcer.load_rules()
        # oslo.policy re-reads a changed file into a new Rules object (the
        # enforcer overwrites its rules on each reload), here or while it
        # evaluates a rule.
        rules = self._enforcer.rules
        if rules is not self._cached_rules:
            with self._lock:
                self._decisions.clear()
                self._pure = {}
                self._cached_rules = rules
        return rules

    def _key(self, rules: Any, context: RequestContext, rule: str,
             target: dict[str, Any]) -> Hashable | None:
        """The cache key of a decision; None if it must not be cached."""
        pure = self._pure.get(rule)
        if pure is None:
            pure = self._pure[rule] = _is_pure(rules, rule)
        if not pure:
            return None
        try:
            key = (rule, _frozen(context.to_policy_values()),
                   _frozen(target))
            hash(key)
        except TypeError:
            return None  # a value that cannot be a key: do not cache
        return key


def _is_pure(rules: Any, name: str) -> bool:
    """Whether rule ``name`` uses only checks of :data:`_PURE_CHECKS`."""
    seen: set[str] = set()
    pending = [name]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if current not in rules:
            continue  # oslo.policy denies an unknown rule, always
        nodes = [rules[current]]
        while nodes:
            check = nodes.pop()
            if not isinstance(check, _PURE_CHECKS):
                return False
            if isinstance(check, _checks.RuleCheck):
                pending.append(check.match)
            nodes.extend(getattr(check, "rules", ()))
            if isinstance(check, _checks.NotCheck):
                nodes.append(check.rule)
    return True


def _frozen(value: Any) -> Hashable:
    """``value`` as a hashable key: mappings and lists as tuples.

    Numbers keep their type, so that True, 1 and 1.0 (equal in Python, not
    once a check turns them into text) differ. Any other object raises
    TypeError: it might change after its decision is cached. Two equal
    mappings in another order make two keys: a miss, never a wrong answer.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind in _NUMBERS:
        return kind, value
    if kind is list or kind is tuple:
        return list, tuple([_frozen(item) for item in value])
    if isinstance(value, Mapping):
        return dict, tuple([(key, _frozen(item))
                            for key, item in value.items()])
    raise TypeError(f"{kind.__name__} is not a policy cache key")


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
