"""A build's box as the Engine is asked for it, and a build's output kept in bounded memory."""

import hashlib
import json

from crane_deployer.build_box import CPU_PERIOD, BuildBox, build_params
from crane_deployer.builder import KEPT_LINES, PROGRESS_MAX_LINES, BuildOutput
from crane_shared.compose import parse_compose
from crane_shared.servicespec import BuildSpec

CONTEXT = "0" * 64


def test_a_build_has_no_network_and_the_boxs_limits_unless_it_asks_for_the_default_network():
    box = BuildBox(cpus=0.5, memory="64m")
    params = build_params("t:1", BuildSpec(context=CONTEXT, args={"A": "1"}, target="app"), {"crane.app": "a"}, box)
    assert params["networkmode"] == "none"
    assert params["memory"] == params["memswap"] == 64 * 1024 * 1024
    assert (params["cpuperiod"], params["cpuquota"]) == (CPU_PERIOD, CPU_PERIOD // 2)
    assert json.loads(params["buildargs"]) == {"A": "1"} and params["target"] == "app"
    assert json.loads(params["labels"]) == {"crane.app": "a"} and params["forcerm"] is True
    asked = build_params("t:1", BuildSpec(context=CONTEXT, network="default"), {}, box)
    assert asked["networkmode"] == "default"


def test_the_network_changes_a_builds_key_only_when_asked_for():
    plain = BuildSpec(context=CONTEXT)
    before = {"context": CONTEXT, "dockerfile": "Dockerfile", "args": {}, "target": None}  # the fields before network
    assert plain.key == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    assert BuildSpec(context=CONTEXT, network="none").key == plain.key
    assert BuildSpec(context=CONTEXT, network="default").key != plain.key


def test_compose_build_network_is_honoured_and_host_is_refused_naming_the_field():
    def build(network: str) -> dict:
        text = f"services:\n  web:\n    build: {{context: ., network: {network}}}\n"
        return parse_compose(text, contexts={"web": CONTEXT}, default_name="x")

    assert build("default").spec.services[0].build.network == "default"
    assert build("bridge").spec.services[0].build.network == "default"
    assert build("none").spec.services[0].build.network == "none"
    try:
        build("host")
    except Exception as exc:  # noqa: BLE001
        assert ("services", "web", "build", "network") in [p[0] for p in exc.problems]
    else:
        raise AssertionError("build.network: host was accepted")


def test_a_build_that_prints_without_end_costs_bounded_memory():
    output = BuildOutput()
    for i in range(100_000):
        output.add(f"spam {i}")
    told = output.take()
    assert len(told) == PROGRESS_MAX_LINES + 1 and told[-1].startswith(f"... {100_000 - PROGRESS_MAX_LINES} more")
    assert output.take() == []
    assert output.log.splitlines() == [f"spam {i}" for i in range(100_000 - KEPT_LINES, 100_000)]
