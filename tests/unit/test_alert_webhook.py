"""Alertmanager's webhook payload and the event each alert becomes (pure)."""

import pytest
from pydantic import ValidationError

from crane_alert_bridge.webhook import WebhookPayload, alert_event, app_of
from crane_shared import subjects as s
from crane_shared.events import parse_event

ALERT = {
    "status": "firing",
    "labels": {"alertname": "CraneHighLoad", "crane_app": "shop-7"},
    "annotations": {"value": "61.2"},
    "startsAt": "2026-11-22T10:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prometheus/graph",
    "fingerprint": "a1b2c3",
}


def payload(**overrides):
    return WebhookPayload.model_validate({"version": "4", "status": "firing", "alerts": [ALERT], **overrides})


def test_an_alert_becomes_a_valid_event_with_a_stable_id():
    event = alert_event(payload().alerts[0])
    again = alert_event(payload().alerts[0])
    assert event.type == s.ALERT_FIRING and event.id == again.id
    parsed, data = parse_event(event.model_dump_json().encode(), s.ALERT_FIRING)
    assert data.app_id == "shop-7" and data.alertname == "CraneHighLoad" and data.fingerprint == "a1b2c3"


def test_resolved_is_another_state_and_another_event():
    resolved = payload(status="resolved", alerts=[{**ALERT, "status": "resolved"}]).alerts[0]
    firing = payload().alerts[0]
    assert alert_event(resolved).type == s.ALERT_RESOLVED and alert_event(resolved).id != alert_event(firing).id


def test_app_label_names_are_tolerated():
    alert = payload(alerts=[{**ALERT, "labels": {"alertname": "X", "app": "legacy-1"}}]).alerts[0]
    assert app_of(alert) == "legacy-1"


@pytest.mark.parametrize(
    "body",
    [
        {"version": "3", "status": "firing", "alerts": [ALERT]},
        {"version": "4", "status": "firing", "alerts": [{**ALERT, "status": "maybe"}]},
        {"version": "4", "status": "firing", "alerts": [{k: v for k, v in ALERT.items() if k != "fingerprint"}]},
        {"version": "4", "status": "firing", "alerts": "none"},
    ],
)
def test_malformed_payloads_are_refused(body):
    with pytest.raises(ValidationError):
        WebhookPayload.model_validate(body)


def test_an_alert_episode_is_one_chain_from_firing_to_resolved_and_a_new_episode_another():
    firing = alert_event(payload().alerts[0])
    resolved = alert_event(payload(status="resolved", alerts=[{**ALERT, "status": "resolved"}]).alerts[0])
    again = alert_event(payload(alerts=[{**ALERT, "startsAt": "2026-11-22T11:00:00Z"}]).alerts[0])
    assert firing.correlationid == resolved.correlationid == "alert-a1b2c3-1795341600000"
    assert again.correlationid != firing.correlationid
