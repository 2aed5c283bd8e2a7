"""Login rate limiting. Every attempt takes a slot *before* its password is checked, from two
budgets: one per email and client address (``max_failures`` per window), and one per client
address whatever the email (``ADDRESS_FACTOR`` times that, against an address spraying many
accounts). A login that succeeds gives its slots back (and frees its email's at that address),
so only wrong passwords use the budgets up. A budget is a counter
in the config bucket, taken by compare-and-set (and one at a time per key within this process),
so concurrent attempts can never all be checked: at most the budget's worth of passwords are.

There is no budget per email alone: a stranger guessing wrong on purpose uses up only their own
address's slots, never the real user's, so they cannot lock anyone out of their account.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref
from collections.abc import Callable

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from crane_shared.users import LoginAttempts as Attempts

ADDRESS_FACTOR = 4


def wait_seconds(attempts: Attempts, now: float, limit: int, window: float) -> float:
    """0 if one more attempt fits the budget now, else how long until it does (pure)."""
    if attempts.count < limit or now - attempts.window_start >= window:
        return 0.0
    return window - (now - attempts.window_start)


def after_attempt(attempts: Attempts, now: float, window: float) -> Attempts:
    """The counter after one more attempt (a new window starts when the old one is over)."""
    if now - attempts.window_start >= window:
        return Attempts(count=1, window_start=now)
    return Attempts(count=attempts.count + 1, window_start=attempts.window_start)


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()[:32]


class LoginLimiter:
    def __init__(self, kv: KeyValue, max_failures: int, window: float, clock: Callable[[], float] = time.time) -> None:
        self.kv = kv
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _pair_key(self, email: str, address: str) -> str:
        return f"login.pair.{_digest(email + '|' + address)}"

    def _budgets(self, email: str, address: str) -> list[tuple[str, int]]:
        return [
            (self._pair_key(email, address), self.max_failures),
            (f"login.address.{_digest(address)}", self.max_failures * ADDRESS_FACTOR),
        ]

    async def reserve(self, email: str, address: str) -> float:
        """Take a slot for one attempt: 0 if it may go ahead, else the seconds to wait."""
        for key, limit in self._budgets(email, address):
            wait = await self._take(key, limit)
            if wait > 0:
                return wait
        return 0.0

    async def _take(self, key: str, limit: int) -> float:
        wait = 0.0

        def take(attempts: Attempts, now: float) -> Attempts | None:
            nonlocal wait
            wait = wait_seconds(attempts, now, limit, self.window)
            return None if wait > 0 else after_attempt(attempts, now, self.window)

        await self._change(key, take)
        return wait

    async def _change(self, key: str, change: Callable[[Attempts, float], Attempts | None]) -> None:
        """Apply ``change`` to the counter by compare-and-set (None: leave it)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            while True:
                try:
                    entry = await self.kv.get(key)
                    revision = entry.revision
                    attempts = Attempts.model_validate_json(entry.value or b"{}")
                except KeyNotFoundError:
                    attempts, revision = Attempts(), None
                except ValidationError:  # not a counter: count afresh (over it, by revision)
                    attempts = Attempts()
                changed = change(attempts, self.clock())
                if changed is None:
                    return
                value = changed.model_dump_json().encode()
                try:
                    if revision is None:
                        await self.kv.create(key, value)
                    else:
                        await self.kv.update(key, value, last=revision)
                    return
                except KeyWrongLastSequenceError:
                    continue  # another API replica counted meanwhile: count again

    async def succeeded(self, email: str, address: str) -> None:
        """The right password: its slots come back."""
        await self.kv.purge(self._pair_key(email, address))
        for key, _ in self._budgets(email, address)[1:]:
            await self._change(key, given_back)


def given_back(attempts: Attempts, now: float) -> Attempts | None:
    """The counter with one attempt returned (pure)."""
    if attempts.count == 0:
        return None
    return Attempts(count=attempts.count - 1, window_start=attempts.window_start)
