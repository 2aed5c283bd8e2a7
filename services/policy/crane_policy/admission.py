"""The input of the admission policy (data.crane.admission.decision): who asks, for what, and
what their other apps already hold. Pure: the caller reads the records."""

from __future__ import annotations

from typing import Any

from crane_shared.appspec import AppSpec
from crane_shared.units import parse_memory
from crane_shared.users import User

ADMISSION_PACKAGE = "crane/admission"


def worst_case(spec: AppSpec, default_cpus: float, default_memory: str) -> dict[str, float]:
    """The most an app can use: each service at max_scale if it autoscales, else at replicas;
    and the networks it takes from CRANE's address pool (one each)."""
    replicas = 0
    cpus = memory = 0.0
    for service in spec.services:
        count = max(service.replicas, service.max_scale) if service.autoscaling.enabled else service.replicas
        service_cpus, service_memory = service.limits(default_cpus, default_memory)
        replicas += count
        cpus += count * service_cpus
        memory += count * parse_memory(service_memory)
    return {
        "replicas": replicas,
        "cpus": round(cpus, 3),
        "memory_mb": round(memory / 2**20, 1),
        "networks": len(spec.used_networks),
    }


def admission_input(
    user: User | None,
    owner: str,
    spec: AppSpec,
    other_apps: list[AppSpec],
    default_cpus: float,
    default_memory: str,
) -> dict[str, Any]:
    usage = {"replicas": 0.0, "cpus": 0.0, "memory_mb": 0.0, "networks": 0.0}
    for other in other_apps:
        for key, value in worst_case(other, default_cpus, default_memory).items():
            usage[key] = round(usage[key] + value, 3)
    return {
        "user": {"id": owner, "email": user.email if user else None, "role": user.role if user else "user"},
        # (storage is counted at upload; a limit left unset is the policy's default)
        "quota": user.quota.model_dump(exclude={"storage_mb"}, exclude_none=True) if user and user.quota else None,
        "spec": spec.model_dump(mode="json"),
        "request": worst_case(spec, default_cpus, default_memory),
        "usage": usage,
    }
