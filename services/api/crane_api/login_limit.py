"""Login rate limiting: after ``max_failures`` wrong passwords for one email within
``window`` seconds, further attempts answer 429 until the window has passed. The counts live in
the config bucket, so every API replica enforces the same limit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue


@dataclass
class Attempts:
    failures: int = 0
    window_start: float = 0.0


def wait_seconds(attempts: Attempts, now: float, max_failures: int, window: float) -> float:
    """0 if a login may be tried now, else how long to wait (pure)."""
    if attempts.failures < max_failures or now - attempts.window_start >= window:
        return 0.0
    return window - (now - attempts.window_start)


def after_failure(attempts: Attempts, now: float, window: float) -> Attempts:
    """The counts after one more wrong password (a new window starts when the old one is over)."""
    if now - attempts.window_start >= window:
        return Attempts(failures=1, window_start=now)
    return Attempts(failures=attempts.failures + 1, window_start=attempts.window_start)


class LoginLimiter:
    def __init__(self, kv: KeyValue, max_failures: int, window: float, clock: Callable[[], float] = time.time) -> None:
        self.kv = kv
        self.max_failures = max_failures
        self.window = window
        self.clock = clock

    @staticmethod
    def _key(email: str) -> str:
        return "login." + email.strip().lower().encode().hex()[:200]

    async def _attempts(self, email: str) -> Attempts:
        try:
            entry = await self.kv.get(self._key(email))
        except KeyNotFoundError:
            return Attempts()
        return Attempts(**json.loads(entry.value or b"{}"))

    async def retry_after(self, email: str) -> float:
        return wait_seconds(await self._attempts(email), self.clock(), self.max_failures, self.window)

    async def failed(self, email: str) -> None:
        attempts = after_failure(await self._attempts(email), self.clock(), self.window)
        await self.kv.put(self._key(email), json.dumps(asdict(attempts)).encode())

    async def succeeded(self, email: str) -> None:
        await self.kv.purge(self._key(email))
