"""What the policy remembers between evaluations (pure, with an injectable clock): when each
autoscaled service was last scaled up, and the recommendations made during its stabilization
window. A service is named by its key, ``<app id>/<service>``."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crane_shared.servicespec import ServiceSpec


@dataclass
class AppMemory:
    last_scale_up: float | None = None
    recommendations: deque[tuple[float, int]] = field(default_factory=deque)


class ScalingMemory:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._apps: dict[str, AppMemory] = {}

    def policy_input(self, key: str, service: ServiceSpec, alert: str, value: float) -> dict[str, Any]:
        scaling = service.autoscaling
        memory = self._apps.setdefault(key, AppMemory())
        now = self.clock()
        window_start = now - scaling.scale_down_stabilization
        while memory.recommendations and memory.recommendations[0][0] < window_start:
            memory.recommendations.popleft()
        return {
            "alert": alert,
            "metric": scaling.metric,
            "value": round(value, 3),
            "target": scaling.target_value,
            "tolerance": scaling.tolerance,
            "current": service.replicas,
            "min": service.min_scale,
            "max": service.max_scale,
            "since_last_scale_up": None if memory.last_scale_up is None else now - memory.last_scale_up,
            "scale_up_cooldown": scaling.scale_up_cooldown,
            "recent_recommendations": [n for _, n in memory.recommendations],
        }

    def remember(self, key: str, decision: dict[str, Any]) -> None:
        memory = self._apps.setdefault(key, AppMemory())
        now = self.clock()
        raw = decision.get("raw_desired")
        if isinstance(raw, (int, float)):
            memory.recommendations.append((now, int(raw)))
        if decision.get("action") == "scale_up":
            memory.last_scale_up = now

    def low_load_began(self, key: str, current: int) -> None:
        """Low load just began: the window starts with today's replica count, so scale-down
        waits until the load has stayed low for the whole stabilization window."""
        self._apps.setdefault(key, AppMemory()).recommendations.append((self.clock(), current))

    def forget(self, key: str) -> None:
        self._apps.pop(key, None)
