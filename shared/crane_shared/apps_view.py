"""Every app record in memory, kept current by one watch on the apps bucket.

Reading all apps from the bucket costs a request per app (the keys, then each value): with
hundreds of apps, an admission (the owner's usage) or the deployer's resync paid hundreds of
round trips each time. A view pays one watch instead, and parses a record only when it is read
after it changed.

A read is never older than the bucket was when the read began: it first asks the stream for
the last write to any app (one request) and waits until the watch has delivered it. So an
admission that follows an insert (the same owner's previous create) sees that insert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.js.errors import NotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import ValidationError

from .appspec import AppRecord

log = logging.getLogger("crane.apps_view")

# How long a read waits for the watch to deliver the last write before it is given up (the
# caller then reads the bucket itself).
CATCH_UP_SECONDS = 5.0


class AppsView:
    """The records under ``prefix`` of the apps bucket, as the watch has delivered them."""

    def __init__(self, kv: KeyValue, prefix: str) -> None:
        self.kv = kv
        self.prefix = prefix
        self._raw: dict[str, tuple[int, bytes]] = {}  # key -> (revision, value)
        self._parsed: dict[str, tuple[int, AppRecord | None]] = {}  # key -> (revision, record)
        self._seen = 0  # the stream sequence of the last entry applied
        self._advanced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        watcher = await self.kv.watch(f"{self.prefix}>")
        self._task = asyncio.create_task(self._follow(watcher), name="apps-view")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        try:
            async for entry in watcher:
                if entry is None:  # the end of the values there were when the watch began
                    continue
                deleted = entry.operation in (KV_DEL, KV_PURGE) or not entry.value
                self.apply(entry.key, entry.revision, None if deleted else entry.value)
                async with self._advanced:
                    self._advanced.notify_all()
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    def apply(self, key: str, revision: int, value: bytes | None) -> None:
        """One entry of the watch: a record written (``value``) or removed (None)."""
        if value is None:
            self._raw.pop(key, None)
            self._parsed.pop(key, None)
        else:
            self._raw[key] = (revision, value)
        self._seen = max(self._seen, revision)

    def current(self) -> list[AppRecord]:
        """The records as delivered so far (each parsed once per revision; a record that is no
        longer valid is left out and logged)."""
        records = []
        for key, (revision, value) in self._raw.items():
            parsed = self._parsed.get(key)
            if parsed is None or parsed[0] != revision:
                try:
                    parsed = (revision, AppRecord.model_validate_json(value))
                except ValidationError as exc:
                    log.warning("app record %s (revision %d) is not valid: %s", key, revision, exc)
                    parsed = (revision, None)
                self._parsed[key] = parsed
            if parsed[1] is not None:
                records.append(parsed[1])
        return records

    async def records(self, timeout: float = CATCH_UP_SECONDS) -> list[AppRecord] | None:
        """Every record, at least as new as the bucket when called; None if the watch did not
        deliver the last write within ``timeout`` (or has stopped)."""
        last = await self._last_write()
        if self._task is None or self._task.done():
            return None
        async with self._advanced:
            try:
                await asyncio.wait_for(self._advanced.wait_for(lambda: self._seen >= last), timeout)
            except TimeoutError:
                return None
        return self.current()

    async def _last_write(self) -> int:
        """The stream sequence of the last write (or removal) of any record; 0 if none."""
        bucket = self.kv._name  # noqa: SLF001 - nats-py keeps the bucket name only here
        try:
            message = await self.kv._js.get_last_msg(f"KV_{bucket}", f"$KV.{bucket}.{self.prefix}>")  # noqa: SLF001
        except NotFoundError:
            return 0
        return int(message.seq or 0)
