"""The admin's policies on a time budget (crane_policy.guarded): too slow, or a crashed engine,
and the shipped policy decides, saying why; a policy that merely answers badly still fails
closed. OPA is given the admin's policies before it decides (OPA itself is not installable
here, so its HTTP API is stood in for)."""

import asyncio
import os
import signal

import httpx
import pytest

from crane_policy.engines import OpaServer, PolicyError, autoscale_decision
from crane_policy.guarded import FALLBACKS, GuardedRego
from crane_policy.policy_store import default_policies
from tests.samples import SCALING_INPUT

SLOW = """package crane.autoscale
import rego.v1
decision := {"action": "none", "desired": 1, "reason": "slow", "n": count([y | some y in numbers.range(1, 300000000)])}
"""
ODD = "package crane.autoscale\nimport rego.v1\ndecision := 42\n"


def fallbacks(why: str) -> float:
    return FALLBACKS.labels("crane/autoscale", why)._value.get()


def test_the_shipped_policies_alone_need_no_worker():
    engine = GuardedRego(default_policies(), default_policies(), budget=1.0)
    decision = asyncio.run(autoscale_decision(engine, SCALING_INPUT))
    assert decision["action"] == "scale_up" and engine.name == "regopy" and engine._worker is None


def test_a_slow_admin_policy_gives_way_to_the_shipped_one():
    engine = GuardedRego({**default_policies(), "autoscale": SLOW}, default_policies(), budget=0.5)
    before = fallbacks("slow")

    async def decide() -> dict:
        try:
            return await autoscale_decision(engine, SCALING_INPUT)
        finally:
            await engine.close()

    decision = asyncio.run(decide())
    assert decision["action"] == "scale_up"  # the shipped policy's answer, not the slow one's
    assert "took over 0.5 s" in engine.name and fallbacks("slow") == before + 1


def test_a_crashed_engine_gives_way_to_the_shipped_one():
    engine = GuardedRego({**default_policies(), "autoscale": SLOW}, default_policies(), budget=30)
    before = fallbacks("crashed")

    async def decide() -> dict:
        task = asyncio.create_task(autoscale_decision(engine, SCALING_INPUT))
        while engine._worker is None:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # well into the slow query
        os.kill(engine._worker.pid, signal.SIGKILL)  # as a segfault would
        try:
            return await task
        finally:
            await engine.close()

    decision = asyncio.run(decide())
    assert decision["action"] == "scale_up" and "crashed" in engine.name and fallbacks("crashed") == before + 1


def test_a_policy_that_answers_badly_still_fails_closed():
    engine = GuardedRego({**default_policies(), "autoscale": ODD}, default_policies(), budget=5)

    async def decide() -> None:
        try:
            await autoscale_decision(engine, SCALING_INPUT)
        finally:
            await engine.close()

    with pytest.raises(PolicyError, match="must be an object"):
        asyncio.run(decide())


def test_opa_gets_the_admins_policies_before_it_decides():
    calls: list[tuple[str, str]] = []

    def opa(request: httpx.Request) -> httpx.Response:
        calls.append((request.method, request.url.path))
        return httpx.Response(200, json={})

    server = OpaServer("http://opa:8181", transport=httpx.MockTransport(opa))
    asyncio.run(server.push({"autoscale": "a", "admission": "b"}, previous={}))
    assert sorted(calls) == [("PUT", "/v1/policies/crane-admission"), ("PUT", "/v1/policies/crane-autoscale")]
    calls.clear()
    asyncio.run(server.push({"autoscale": "a2"}, previous={"autoscale": "a", "admission": "b"}))
    assert sorted(calls) == [("DELETE", "/v1/policies/crane-admission"), ("PUT", "/v1/policies/crane-autoscale")]
