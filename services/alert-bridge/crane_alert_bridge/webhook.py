"""Alertmanager's webhook payload (version 4) and how one alert becomes an event."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from crane_shared import subjects as s
from crane_shared.alert_names import APP_LABEL, SERVICE_LABEL
from crane_shared.events import Alert, Event, new_event


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # noqa: N815 - Alertmanager's field names
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str | None = None  # noqa: N815
    fingerprint: str = Field(min_length=1, max_length=128)


class WebhookPayload(BaseModel):
    """https://prometheus.io/docs/alerting/latest/configuration/#webhook_config"""

    model_config = ConfigDict(extra="allow")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""  # noqa: N815
    alerts: list[WebhookAlert] = Field(max_length=1000)


def app_of(alert: WebhookAlert) -> str | None:
    return alert.labels.get(APP_LABEL) or alert.labels.get("app_id") or alert.labels.get("app")


def alert_event(alert: WebhookAlert) -> Event:
    """The event for one alert; its id is stable, so JetStream drops a repeat as well. An alert
    begins a causal chain: its firing and its resolution share the chain of its episode (the
    alert's fingerprint and start), whatever Alertmanager's notifications repeat in between."""
    subject = s.ALERT_FIRING if alert.status == "firing" else s.ALERT_RESOLVED
    payload = Alert(
        app_id=app_of(alert),
        service=alert.labels.get(SERVICE_LABEL),
        alertname=alert.labels.get("alertname", "unnamed"),
        fingerprint=alert.fingerprint,
        starts_at=alert.startsAt,
        labels=alert.labels,
        annotations=alert.annotations,
    )
    started_ms = int(alert.startsAt.timestamp() * 1000)
    episode = f"alert-{alert.fingerprint}-{started_ms}"
    event_id = f"alert-{alert.fingerprint}-{alert.status}-{started_ms}"
    return new_event(subject, payload, source="crane/alert-bridge", id=event_id, correlationid=episode)
