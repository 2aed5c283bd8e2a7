"""Asking the admission policy about an app spec: a request to the policy service over NATS.
The API (before it accepts a request) and the deployer (for intents clients publish straight to
NATS) ask the same question the same way."""

from __future__ import annotations

from . import subjects as s
from .appspec import AppSpec
from .bus import Bus
from .correlation import current_chain
from .host_paths import denied
from .rpc import AdmitRequest
from .units import parse_volume

ADMISSION_TIMEOUT_SECONDS = 5.0


class AdmissionUnavailable(RuntimeError):
    """The policy service answered, but could not judge the spec."""


async def admission_refusals(
    bus: Bus, owner: str, spec: AppSpec, app_id: str | None = None, *, announce: str | None = None
) -> list[str] | None:
    """None if ``owner`` may run ``spec`` (the app ``app_id``, being changed, does not count
    towards the owner's usage); otherwise the reasons, each naming a field: the host paths CRANE
    never mounts (whatever the policy says), then the policy's. No answer raises NATS' timeout
    or no-responders error (unless the host paths alone refuse the spec). With ``announce``, the
    policy publishes its verdict about that app, in the caller's chain."""
    never = never_mounted(spec)
    body = AdmitRequest(
        owner=owner,
        spec=spec.model_dump(mode="json"),
        app_id=app_id,
        announce=announce,
        correlationid=current_chain() if announce else None,
    ).model_dump(mode="json")
    try:
        verdict = await bus.request(s.RPC_POLICY_ADMIT, body, timeout=ADMISSION_TIMEOUT_SECONDS)
    except Exception:
        if never:
            return never
        raise
    if "error" in verdict:
        if never:
            return never
        raise AdmissionUnavailable(f"the admission check failed: {verdict['error']}")
    reasons = [] if verdict.get("allowed") else list(verdict.get("reasons", []))
    return [*never, *reasons] or None


def never_mounted(spec: AppSpec) -> list[str]:
    """The host paths of ``spec`` that CRANE refuses whatever an admin allows (host_paths.py)."""
    reasons = []
    for service in spec.services:
        for index, volume in enumerate(service.volumes):
            source = parse_volume(volume)
            reason = denied(source.source) if source.is_host_path else None
            if reason:
                reasons.append(f"services.{service.name}.volumes.{index}: {reason}")
    return reasons
