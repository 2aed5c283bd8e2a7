"""Secrets the suite generates for itself on first start (token signing key, webhook token),
each in a bucket of its own (buckets.py): created once, atomically, by the service that owns it,
read by the one other service that needs it, and never written to code, configuration, logs
or exported files."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

READ_TIMEOUT_SECONDS = 60.0

SIGNING_KEY = "jwt-signing-key"
WEBHOOK_TOKEN = "alert-webhook-token"


async def ensure_secret(config: KeyValue, name: str, nbytes: int = 48) -> str:
    with contextlib.suppress(KeyWrongLastSequenceError):
        await config.create(name, secrets.token_urlsafe(nbytes).encode())
    entry = await config.get(name)
    return (entry.value or b"").decode()


async def read_secret(kv: KeyValue, name: str, timeout: float = READ_TIMEOUT_SECONDS) -> str:
    """A secret another service makes, waiting until it exists."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with contextlib.suppress(KeyNotFoundError):
            entry = await kv.get(name)
            if entry.value:
                return entry.value.decode()
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"the secret {name} was not made within {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def move_secret(source: KeyValue, target: KeyValue, name: str) -> None:
    """Move a secret an older CRANE kept in ``source`` to ``target`` (once; nothing if none)."""
    with contextlib.suppress(KeyNotFoundError):
        entry = await source.get(name)
        if entry.value:
            with contextlib.suppress(KeyWrongLastSequenceError):
                await target.create(name, entry.value)
        await source.purge(name)
