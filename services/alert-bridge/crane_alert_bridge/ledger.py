"""The last known state of every alert, in the alerts bucket: a notification only becomes an
event when it changes that state (compare-and-set, so concurrent retries race safely)."""

from __future__ import annotations

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from crane_shared.monitoring_state import AlertState, alert_key

from .webhook import WebhookAlert, app_of


class AlertLedger:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def changed(self, alert: WebhookAlert) -> bool:
        """Record the alert's state; True only for the first notification of a new state."""
        key = alert_key(alert.fingerprint)
        state = AlertState(
            status=alert.status,
            starts_at=alert.startsAt.isoformat(),
            app_id=app_of(alert),
            alertname=alert.labels.get("alertname", ""),
            labels=alert.labels,
            annotations=alert.annotations,
        )
        record = state.model_dump_json().encode()
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            try:
                await self.kv.create(key, record)
                return True
            except KeyWrongLastSequenceError:
                return False
        if AlertState.model_validate_json(entry.value or b"{}").same_episode_state(state):
            return False
        try:
            await self.kv.update(key, record, last=entry.revision)
        except KeyWrongLastSequenceError:
            return False
        return True
