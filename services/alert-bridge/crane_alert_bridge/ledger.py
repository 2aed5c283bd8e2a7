"""The last known state of every alert, in the alerts bucket: a notification only becomes an
event when it changes that state (compare-and-set, so concurrent retries race safely)."""

from __future__ import annotations

import json

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from .webhook import WebhookAlert, app_of, state_of


class AlertLedger:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def changed(self, alert: WebhookAlert) -> bool:
        """Record the alert's state; True only for the first notification of a new state."""
        key = f"alert.{alert.fingerprint}"
        record = json.dumps(
            {
                **state_of(alert),
                "app_id": app_of(alert),
                "alertname": alert.labels.get("alertname", ""),
                "labels": alert.labels,
                "annotations": alert.annotations,
            }
        ).encode()
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            try:
                await self.kv.create(key, record)
                return True
            except KeyWrongLastSequenceError:
                return False
        current = json.loads(entry.value or b"{}")
        if {k: current.get(k) for k in ("status", "starts_at")} == state_of(alert):
            return False
        try:
            await self.kv.update(key, record, last=entry.revision)
        except KeyWrongLastSequenceError:
            return False
        return True
