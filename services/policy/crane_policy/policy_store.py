"""Policies live in the crane_policies bucket, one Rego module per key. The defaults shipped in
policies/*.rego are put there on first start; admins change them through the API."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from crane_shared.store import kv_items

DEFAULTS_DIR = Path(__file__).parent / "policies"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def default_policies() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(DEFAULTS_DIR.glob("*.rego")) if not p.stem.endswith("_test")}


class PolicyStore:
    def __init__(self, kv: KeyValue, cache_seconds: float = 2.0) -> None:
        self.kv = kv
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, dict[str, str]] | None = None

    async def seed_defaults(self) -> None:
        for name, source in default_policies().items():
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self.kv.create(name, source.encode())

    async def modules(self) -> dict[str, str]:
        """Every policy module, cached for a moment (evaluations run every second)."""
        if self._cached and time.monotonic() - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        modules = {key: value.decode() for key, value in (await kv_items(self.kv)).items()}
        self._cached = (time.monotonic(), modules)
        return modules
