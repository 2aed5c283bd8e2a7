"""Start order (pure): a service's replicas are created only once the services it depends on
meet Compose's condition: ``service_started`` (their replicas run), ``service_healthy`` (they
pass their health check) or ``service_completed_successfully`` (they exited with success)."""

from __future__ import annotations

from collections.abc import Mapping

from crane_shared.appspec import AppSpec

from .plan import Replica


def _met(condition: str, count: int, current: list[Replica]) -> bool:
    slots = {r.index: r for r in current if r.index < count}
    if condition == "service_completed_successfully":
        return sum(r.completed for r in slots.values()) >= count
    if condition == "service_healthy":
        return sum(r.ready for r in slots.values()) >= count
    return sum(r.state == "running" or r.completed for r in slots.values()) >= count


def waiting_services(spec: AppSpec, desired: Mapping[str, tuple[int, str]], observed: list[Replica]) -> dict[str, str]:
    """service -> what it waits for, for each service whose dependencies are not met yet."""
    waiting: dict[str, str] = {}
    for service in spec.services:
        for dependency, needs in service.depends_on.items():
            if not needs.required:  # Compose only warns about an optional dependency
                continue
            count, spec_hash = desired.get(dependency, (0, ""))
            current = [r for r in observed if r.service == dependency and r.spec_hash == spec_hash]
            if not _met(needs.condition, count, current):
                waiting[service.name] = f"waits for {dependency} ({needs.condition})"
                break
    return waiting
