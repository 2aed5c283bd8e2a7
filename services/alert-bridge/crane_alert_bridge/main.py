"""alert-bridge wiring: the webhook over HTTP (for Alertmanager) and over NATS request/reply
(for the API's legacy route POST /api/v1/monitoring/alert), both with the same bearer token."""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter
from pydantic import ValidationError

from crane_shared import subjects as s
from crane_shared.bus import Bus
from crane_shared.events import describe_validation_error
from crane_shared.rpc import WebhookAnswer, WebhookRequest
from crane_shared.secrets import WEBHOOK_TOKEN, ensure_secret
from crane_shared.service import configure_logging, connect_service_bus, start_metrics_server
from crane_shared.settings import CommonSettings

from .ledger import AlertLedger
from .webhook import WebhookPayload, alert_event

log = logging.getLogger("crane.alert-bridge")
ALERTS = Counter("crane_alerts_received_total", "Alerts received by the bridge", ["status", "outcome"])


class BridgeSettings(CommonSettings):
    bridge_host: str = "0.0.0.0"
    bridge_port: int = 9095


class Bridge:
    def __init__(self, bus: Bus, ledger: AlertLedger, token: str) -> None:
        self.bus = bus
        self.ledger = ledger
        self.token = token

    def authorized(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.token.encode())

    async def accept(self, payload: WebhookPayload) -> WebhookAnswer:
        published = duplicates = 0
        for alert in payload.alerts:
            if await self.ledger.changed(alert):
                await self.bus.publish(alert_event(alert))
                published += 1
                ALERTS.labels(alert.status, "published").inc()
            else:
                duplicates += 1
                ALERTS.labels(alert.status, "duplicate").inc()
        return WebhookAnswer(status=200, published=published, duplicates=duplicates)

    async def answer_request(self, request: WebhookRequest) -> WebhookAnswer:
        """The webhook over NATS: its bearer token and payload -> 200, 401 or 422."""
        if not self.authorized(request.token):
            return WebhookAnswer(status=401, detail="missing or invalid bearer token")
        try:
            payload = WebhookPayload.model_validate(request.payload)
        except ValidationError as exc:
            return WebhookAnswer(status=422, detail=describe_validation_error(exc, prefix="body"))
        return await self.accept(payload)


_bearer = HTTPBearer(auto_error=False)


def bridge_of(request: Request) -> Bridge:
    bridge: Bridge = request.app.state.bridge
    return bridge


def authorized_bridge(
    bridge: Annotated[Bridge, Depends(bridge_of)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Bridge:
    # A dependency, so a request without the token gets 401 before its body is looked at.
    if credentials is None or not bridge.authorized(credentials.credentials):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token")
    return bridge


def create_app(settings: BridgeSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = await connect_service_bus(settings, "alert-bridge")
        token = await ensure_secret(await bus.kv(s.WEBHOOK_BUCKET), WEBHOOK_TOKEN)
        bridge = Bridge(bus, AlertLedger(await bus.kv(s.ALERTS_BUCKET)), token)
        await bus.serve(s.RPC_ALERT_WEBHOOK, bridge.answer_request)
        app.state.bridge = bridge
        log.info("alert-bridge ready on :%d", settings.bridge_port)
        yield
        await bus.close()

    app = FastAPI(title="CRANE alert-bridge", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/alerts")
    async def receive(payload: WebhookPayload, bridge: Annotated[Bridge, Depends(authorized_bridge)]) -> dict[str, int]:
        """Alertmanager's webhook receiver (payload version 4)."""
        answer = await bridge.accept(payload)
        return {"published": answer.published or 0, "duplicates": answer.duplicates or 0}

    return app


def run() -> None:
    settings = BridgeSettings()
    configure_logging(settings.log_level)
    start_metrics_server(settings.metrics_port)
    uvicorn.run(create_app(settings), host=settings.bridge_host, port=settings.bridge_port, log_level="warning")
