"""The crane_policies bucket, one Rego module per key (the policy's name): the API keeps what
admins write there, the policy service reads it (and puts the shipped policies there on first
start)."""

from __future__ import annotations

import contextlib
import re
import time

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from .store import kv_items

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class Policies:
    def __init__(self, kv: KeyValue, cache_seconds: float = 2.0) -> None:
        self.kv = kv
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, dict[str, str]] | None = None

    async def seed(self, shipped: dict[str, str]) -> None:
        """Put each shipped policy in, unless one of that name is there already."""
        for name, source in shipped.items():
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self.kv.create(name, source.encode())

    async def modules(self) -> dict[str, str]:
        """Every policy module, cached for a moment (evaluations run every second)."""
        if self._cached and time.monotonic() - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        modules = {key: value.decode() for key, value in (await kv_items(self.kv)).items()}
        self._cached = (time.monotonic(), modules)
        return modules

    async def names(self) -> list[str]:
        return sorted(await kv_items(self.kv))

    async def source(self, name: str) -> str | None:
        try:
            return ((await self.kv.get(name)).value or b"").decode()
        except KeyNotFoundError:
            return None

    async def keep(self, name: str, source: str) -> None:
        await self.kv.put(name, source.encode())

    async def remove(self, name: str) -> bool:
        """Remove the policy; False if there was none of that name."""
        if await self.source(name) is None:
            return False
        await self.kv.purge(name)
        return True
