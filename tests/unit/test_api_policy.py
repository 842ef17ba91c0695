"""Policy defaults in code and their override by policy.yaml."""
from __future__ import annotations

import contextlib
import os

import pytest
from oslo_policy import policy as oslo_policy

from capstan.api import policy
from capstan.common import config, exception
from capstan.common.context import RequestContext


@pytest.fixture
def conf(tmp_path):
    conf = config.make_conf()
    conf([])
    conf.set_override("policy_file", str(tmp_path / "policy.yaml"),
                      group="oslo_policy")
    return conf


def ctx(roles, project="p1"):
    return RequestContext(user_id="u", project_id=project, roles=roles,
                          overwrite=False)


def test_policy_admin_may_manage_services(conf):
    enforcer = policy.build_policy(conf)
    for rule in ("services:list", "services:update", "services:delete",
                 "scheduler_stats:pools"):
        enforcer.authorize(ctx(["admin"]), rule)


def test_policy_member_is_forbidden_services(conf):
    with pytest.raises(exception.Forbidden, match="services:list"):
        policy.build_policy(conf).authorize(ctx(["member"]), "services:list")


def test_policy_volumes_are_owner_or_admin(conf):
    enforcer = policy.build_policy(conf)
    enforcer.authorize(ctx(["member"]), "volumes:get",
                       {"project_id": "p1"})
    enforcer.authorize(ctx(["admin"], "ops"), "volumes:get",
                       {"project_id": "p1"})
    with pytest.raises(exception.Forbidden):
        enforcer.authorize(ctx(["member"], "p2"), "volumes:get",
                           {"project_id": "p1"})


def test_policy_file_overrides_a_default(conf, tmp_path):
    (tmp_path / "policy.yaml").write_text('"admin_api": "role:boss"\n')
    enforcer = policy.build_policy(conf)
    enforcer.authorize(ctx(["boss"]), "services:list")
    with pytest.raises(exception.Forbidden):
        enforcer.authorize(ctx(["admin"]), "services:list")


def test_policy_broken_file_fails_at_build(conf, tmp_path):
    (tmp_path / "policy.yaml").write_text('"admin_api": [unclosed\n')
    with pytest.raises(config.ConfigError, match="policy.yaml"):
        policy.build_policy(conf)


def test_policy_rules_listed_for_sample_generator():
    from capstan_volumes import policies

    names = {rule.name for rule in policy.list_rules() + policies.list_rules()}
    assert {"admin_api", "owner_or_admin", "services:list",
            "volumes:create", "scheduler_stats:pools"} <= names


@pytest.fixture
def evaluations(monkeypatch):
    """Count the rule evaluations oslo.policy is asked for."""
    calls = []
    authorize = oslo_policy.Enforcer.authorize

    def counting(self, rule, target, creds, *args, **kwargs):
        calls.append(rule)
        return authorize(self, rule, target, creds, *args, **kwargs)

    monkeypatch.setattr(oslo_policy.Enforcer, "authorize", counting)
    return calls


def _rewrite(path, text):
    """Write a policy file whose mtime differs from the one before."""
    before = path.stat().st_mtime if path.exists() else 0
    path.write_text(text)
    os.utime(path, (before + 10, before + 10))


def test_policy_same_question_is_evaluated_once(conf, evaluations):
    enforcer = policy.build_policy(conf)

    for _ in range(3):
        enforcer.authorize(ctx(["member"]), "volumes:get",
                           {"project_id": "p1"})

    assert evaluations == ["volumes:get"]
    assert enforcer.cached_decisions == 1


def test_policy_cached_denial_still_forbids(conf, evaluations):
    enforcer = policy.build_policy(conf)

    for _ in range(2):
        with pytest.raises(exception.Forbidden):
            enforcer.authorize(ctx(["member"], "p2"), "volumes:get",
                               {"project_id": "p1"})

    assert evaluations == ["volumes:get"]


def test_policy_decisions_differ_by_credentials_and_target(conf):
    enforcer = policy.build_policy(conf)

    enforcer.authorize(ctx(["member"], "p1"), "volumes:get",
                       {"project_id": "p1"})
    with pytest.raises(exception.Forbidden):
        enforcer.authorize(ctx(["member"], "p2"), "volumes:get",
                           {"project_id": "p1"})
    with pytest.raises(exception.Forbidden):
        enforcer.authorize(ctx(["member"], "p1"), "volumes:get",
                           {"project_id": "p3"})
    enforcer.authorize(ctx(["admin"], "p2"), "volumes:get",
                       {"project_id": "p1"})

    assert enforcer.cached_decisions == 4


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_policy_cached_decision_follows_policy_file_change(conf, tmp_path):
    path = tmp_path / "policy.yaml"
    _rewrite(path, '"admin_api": "role:admin"\n')
    clock = _Clock()
    enforcer = policy.Policy(conf, clock=clock, check_interval=1.0)
    enforcer.authorize(ctx(["admin"]), "services:list")

    _rewrite(path, '"admin_api": "role:boss"\n')
    clock.now += 0.5
    enforcer.authorize(ctx(["admin"]), "services:list")  # not looked yet
    clock.now += 0.5

    with pytest.raises(exception.Forbidden):
        enforcer.authorize(ctx(["admin"]), "services:list")
    enforcer.authorize(ctx(["boss"]), "services:list")


def test_policy_cached_decision_follows_policy_file_creation(conf, tmp_path):
    clock = _Clock()
    enforcer = policy.Policy(conf, clock=clock)
    enforcer.authorize(ctx(["admin"]), "services:list")

    _rewrite(tmp_path / "policy.yaml", '"admin_api": "role:boss"\n')
    clock.now += policy.CHECK_INTERVAL

    with pytest.raises(exception.Forbidden):
        enforcer.authorize(ctx(["admin"]), "services:list")


def test_policy_reload_during_a_miss_empties_the_cache(conf, tmp_path):
    # oslo.policy re-reads a changed file itself when it evaluates a rule.
    path = tmp_path / "policy.yaml"
    _rewrite(path, '"admin_api": "role:admin"\n')
    enforcer = policy.Policy(conf, clock=_Clock())
    enforcer.authorize(ctx(["admin"]), "services:list")

    _rewrite(path, '"admin_api": "role:boss"\n')
    with pytest.raises(exception.Forbidden):  # a miss: evaluated, reloaded
        enforcer.authorize(ctx(["admin"]), "aggregates:list")

    with pytest.raises(exception.Forbidden):
        enforcer.authorize(ctx(["admin"]), "services:list")


def test_policy_cache_keeps_the_most_recent_decisions(conf, evaluations):
    enforcer = policy.Policy(conf, cache_size=2)
    member = ctx(["member"])

    for project in ("p1", "p2", "p1", "p3", "p1"):
        with contextlib.suppress(exception.Forbidden):
            enforcer.authorize(member, "owner_or_admin",
                               {"project_id": project})

    assert enforcer.cached_decisions == 2
    # p1 stayed (used again), p2 went when p3 came.
    assert evaluations == ["owner_or_admin"] * 3


def test_policy_rule_with_a_non_pure_check_is_not_cached(conf, tmp_path,
                                                         evaluations):
    # role:admin decides first, so the http check never sends a request.
    _rewrite(tmp_path / "policy.yaml",
             '"admin_api": "role:admin or http://127.0.0.1:9/"\n')
    enforcer = policy.build_policy(conf)

    for _ in range(2):
        enforcer.authorize(ctx(["admin"]), "services:list")

    assert evaluations == ["services:list"] * 2
    assert enforcer.cached_decisions == 0


def test_policy_target_that_cannot_be_a_key_is_not_cached(conf):
    enforcer = policy.build_policy(conf)

    enforcer.authorize(ctx(["member"]), "volumes:get",
                       {"project_id": "p1", "tags": {"a", "b"}})
    enforcer.authorize(ctx(["member"]), "volumes:get",
                       {"project_id": "p1", "owner": object()})

    assert enforcer.cached_decisions == 0


def test_policy_true_and_one_are_different_targets(conf, tmp_path):
    _rewrite(tmp_path / "policy.yaml",
             '"admin_api": "role:admin or \'True\':%(flag)s"\n')
    enforcer = policy.build_policy(conf)

    enforcer.authorize(ctx(["member"]), "services:list", {"flag": True})
    with pytest.raises(exception.Forbidden):
        enforcer.authorize(ctx(["member"]), "services:list", {"flag": 1})
