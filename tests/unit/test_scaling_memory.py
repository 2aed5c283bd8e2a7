"""Cooldown and stabilization memory of the policy, with a controllable clock."""

from crane_policy.scaling_memory import ScalingMemory
from crane_shared.appspec import AppRecord, AppSpec


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(replicas=3, stabilization=30.0, cooldown=3.0):
    spec = AppSpec.model_validate(
        {
            "name": "shop",
            "replicas": replicas,
            "min_scale": 1,
            "max_scale": 10,
            "services": [{"name": "web", "image": "i", "ports": [80]}],
            "autoscaling": {"target": 20, "scale_down_stabilization": stabilization, "scale_up_cooldown": cooldown},
        }
    )
    return AppRecord(id="shop-1", owner="o", spec=spec)


def test_input_carries_the_app_settings_and_the_time_since_the_last_scale_up():
    clock = Clock()
    memory = ScalingMemory(clock)
    first = memory.policy_input("shop-1", record().spec.services[0], "CraneHighLoad", 61.0)
    assert first["current"] == 3 and first["target"] == 20 and first["since_last_scale_up"] is None
    memory.remember("shop-1", {"action": "scale_up", "desired": 10, "raw_desired": 10})
    clock.now += 2
    assert memory.policy_input("shop-1", record().spec.services[0], "CraneHighLoad", 61.0)["since_last_scale_up"] == 2


def test_window_keeps_recommendations_for_the_stabilization_period_only():
    clock = Clock()
    memory = ScalingMemory(clock)
    memory.low_load_began("shop-1", 6)
    for raw in (2, 1):
        clock.now += 10
        memory.remember("shop-1", {"action": "none", "raw_desired": raw})
    assert memory.policy_input("shop-1", record().spec.services[0], "CraneLowLoad", 1.0)["recent_recommendations"] == [
        6,
        2,
        1,
    ]
    clock.now += 15  # the 6 is now 35 s old, beyond the 30 s window
    assert memory.policy_input("shop-1", record().spec.services[0], "CraneLowLoad", 1.0)["recent_recommendations"] == [
        2,
        1,
    ]


def test_default_target_depends_on_the_metric():
    spec = AppSpec.model_validate(
        {"name": "a", "services": [{"name": "w", "image": "i"}], "autoscaling": {"metric": "cpu"}}
    )
    assert spec.autoscaling.target_value == 70.0
