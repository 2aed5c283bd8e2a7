"""Each owner's share of the uploads store. NATS clients put their uploads into one store
(uploads.py), so one owner could fill it for everyone. The deployer follows the store's objects
as they are put, counts each owner's bytes (an upload's name carries its owner's key), and
deletes an upload that takes its owner past their share: the intent that names it is then
refused (no such upload), and every other owner's uploads still fit.

What this cannot see: chunks a hostile client publishes without ever putting the object's
metadata. They have no owner, and stay until the store's TTL (an hour) or its byte limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from crane_shared import subjects as s

log = logging.getLogger("crane.deployer.uploads")


def owner_key_of(name: str) -> str | None:
    """The owner key in an upload's name (``u-<owner key>-<random>``), or None."""
    parts = name.split("-")
    return parts[1] if len(parts) == 3 and parts[0] == "u" else None


@dataclass
class UploadLedger:
    """Each owner's uploads in the store, by name and size (pure)."""

    share_bytes: int
    held: dict[str, dict[str, int]] = field(default_factory=dict)  # owner key -> name -> size

    def used(self, owner_key: str) -> int:
        return sum(self.held.get(owner_key, {}).values())

    def put(self, name: str, size: int) -> bool:
        """Count an upload; False when it would take its owner past their share (not counted:
        it is to be deleted)."""
        owner = owner_key_of(name)
        if owner is None:
            return False
        mine = self.held.setdefault(owner, {})
        if self.used(owner) - mine.get(name, 0) + size > self.share_bytes:
            return False
        mine[name] = size
        return True

    def gone(self, name: str) -> None:
        owner = owner_key_of(name)
        if owner is not None and owner in self.held:
            self.held[owner].pop(name, None)
            if not self.held[owner]:
                del self.held[owner]


class UploadShares:
    def __init__(self, objects: Callable[[str], Awaitable[ObjectStore]], share_bytes: int) -> None:
        self.objects = objects
        self.ledger = UploadLedger(share_bytes)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the store until ``stop`` (its present objects first, then each change)."""
        store = await self.objects(s.UPLOADS_OBJECTS)
        watcher = await store.watch()
        try:
            while not stop.is_set():
                try:
                    info = await watcher.updates(timeout=1.0)  # type: ignore[no-untyped-call]
                except TimeoutError:
                    continue
                if info is None:  # the present objects are all counted
                    continue
                if info.deleted:
                    self.ledger.gone(info.name)
                elif not self.ledger.put(info.name, int(info.size or 0)):
                    log.warning(
                        "upload %s (%d bytes) takes its owner past their share of %d bytes: deleted",
                        info.name,
                        info.size or 0,
                        self.ledger.share_bytes,
                    )
                    with contextlib.suppress(NotFoundError):
                        await store.delete(info.name)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]
