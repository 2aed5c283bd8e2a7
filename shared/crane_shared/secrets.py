"""Secrets the suite generates for itself on first start (token signing key, webhook token),
kept in the config bucket: created once, atomically, by whichever service gets there first,
and never written to code, configuration, logs or exported files."""

from __future__ import annotations

import contextlib
import secrets

from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

SIGNING_KEY = "jwt-signing-key"
WEBHOOK_TOKEN = "alert-webhook-token"


async def ensure_secret(config: KeyValue, name: str, nbytes: int = 48) -> str:
    with contextlib.suppress(KeyWrongLastSequenceError):
        await config.create(name, secrets.token_urlsafe(nbytes).encode())
    entry = await config.get(name)
    return (entry.value or b"").decode()
