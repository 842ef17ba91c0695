"""Policy defaults in code and their override by policy.yaml."""
from __future__ import annotations

import pytest

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
