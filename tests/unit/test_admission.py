"""The admission policy's input (what an app can use at most, what the user's other apps hold)
and its verdicts on the embedded engine."""

import asyncio

from crane_policy.admission import ADMISSION_PACKAGE, admission_input, worst_case
from crane_policy.engines import EmbeddedRego, verdict
from crane_policy.policy_store import default_policies
from crane_shared.appspec import AppSpec
from crane_shared.users import Quota, User


def spec(**kw) -> AppSpec:
    return AppSpec.model_validate({"name": "shop", "services": [{"name": "web", "image": "i"}], **kw})


def test_worst_case_counts_each_service_at_its_own_replicas_or_max_scale():
    # The app-level replicas are the primary service's (a, the first); b keeps its own 1.
    plain = spec(
        replicas=2,
        services=[{"name": "a", "image": "i"}, {"name": "b", "image": "i", "resources": {"cpus": 2, "memory": "1g"}}],
    )
    assert worst_case(plain, 0.5, "256m") == {"replicas": 3, "cpus": 3.0, "memory_mb": 1536.0, "networks": 1}
    networked = spec(
        services=[{"name": "a", "image": "i", "networks": ["front", "back"]}], networks={"front": {}, "back": {}}
    )
    assert worst_case(networked, 0.5, "256m")["networks"] == 2  # each takes a subnet of the pool
    scaling = spec(replicas=1, max_scale=6, autoscaling={"metric": "rps"})
    assert worst_case(scaling, 0.5, "256m")["replicas"] == 6
    mixed = spec(
        services=[
            {"name": "a", "image": "i", "replicas": 2, "max_scale": 8, "autoscaling": {"metric": "cpu"}},
            {"name": "b", "image": "i", "replicas": 3},
        ]
    )
    assert worst_case(mixed, 0.5, "256m")["replicas"] == 11


def test_usage_sums_the_other_apps_and_the_users_quota_is_passed():
    user = User(email="a@b.c", full_name="A", password_hash="x", quota=Quota(replicas=3, cpus=1, memory_mb=512))
    policy_input = admission_input(user, "a@b.c", spec(replicas=2), [spec(replicas=1), spec(replicas=1)], 0.5, "256m")
    assert policy_input["usage"] == {"replicas": 2, "cpus": 1.0, "memory_mb": 512.0, "networks": 2}
    assert policy_input["quota"] == {"replicas": 3, "cpus": 1.0, "memory_mb": 512}
    result = asyncio.run(verdict(EmbeddedRego(default_policies()), ADMISSION_PACKAGE, policy_input))
    assert not result["allowed"]
    assert [r.split(":")[0] for r in result["reasons"]] == ["quota.replicas", "quota.cpus", "quota.memory_mb"]


def test_an_unknown_user_gets_the_default_quota():
    policy_input = admission_input(None, "ghost@b.c", spec(replicas=3), [], 0.5, "256m")
    assert policy_input["quota"] is None and policy_input["user"]["role"] == "user"
    assert asyncio.run(verdict(EmbeddedRego(default_policies()), ADMISSION_PACKAGE, policy_input))["allowed"]
