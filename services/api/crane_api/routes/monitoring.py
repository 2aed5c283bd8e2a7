"""What fires now, what the policy decided, and the original CRANE's webhook path."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.security.utils import get_authorization_scheme_param
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from crane_shared import subjects as s
from crane_shared.events import PolicyDecision
from crane_shared.monitoring_state import DecisionLog, FiringAlert
from crane_shared.store import firing_alerts

from ..deps import CurrentUser, GatewayDep, OwnedApp

router = APIRouter(tags=["monitoring"])


@router.get("/alerts")
async def list_firing_alerts(user: CurrentUser, gateway: GatewayDep) -> list[FiringAlert]:
    """Alerts firing now, for the caller's apps (an admin sees all)."""
    visible = []
    for alert in await firing_alerts(await gateway.bus.kv(s.ALERTS_BUCKET)):
        record = await gateway.apps.get(alert.app_id) if alert.app_id else None
        if user.is_admin or (record is not None and record.owner == user.id):
            visible.append(alert)
    return sorted(visible, key=lambda a: a.starts_at)


@router.get("/apps/{app_id}/decisions", tags=["apps"])
async def app_decisions(record: OwnedApp, gateway: GatewayDep) -> list[PolicyDecision]:
    """The policy's latest decisions about the app (newest last), with their inputs."""
    return await DecisionLog(await gateway.bus.kv(s.DECISIONS_BUCKET)).latest(record.id)


@router.post("/monitoring/alert")
async def legacy_webhook(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    """The original CRANE's Alertmanager webhook path, handed to the alert-bridge over NATS.
    Authenticated with the suite's webhook token, like the bridge itself."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    try:
        payload = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    try:
        answer = await gateway.bus.request(
            s.RPC_ALERT_WEBHOOK, {"token": token if scheme.lower() == "bearer" else None, "payload": payload}
        )
    except (NatsTimeout, NoRespondersError):
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, "the alert-bridge did not answer") from None
    code = answer.pop("status", 502)
    if code == 422:
        raise HTTPException(code, [{"type": "value_error", "loc": ["body"], "msg": answer.get("detail", "invalid")}])
    if code != 200:
        raise HTTPException(code, answer.get("detail", "rejected"))
    return answer
