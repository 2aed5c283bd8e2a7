"""Keeping the stored contexts and files owned and no larger than what apps use (storage.py):
at start, what apps from before name is recorded for their owners; after an app is deleted or
its spec changes, and once an hour, what no app of an owner names any more is released, and an
object with no owner left is deleted from its store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from crane_shared import subjects as s
from crane_shared.storage import RELEASE_GRACE_SECONDS, Kind, Storage
from crane_shared.store import AppStore

log = logging.getLogger("crane.deployer.storage")
SWEEP_EVERY_SECONDS = 3600.0
SETTLE_SECONDS = 2.0  # sweeps asked for close together are one

STORES: dict[Kind, str] = {"context": s.CONTEXTS_OBJECTS, "file": s.FILES_OBJECTS}


class StorageKeeper:
    def __init__(
        self,
        storage: Storage,
        apps: AppStore,
        objects: Callable[[str], Awaitable[ObjectStore]],
        grace: float = RELEASE_GRACE_SECONDS,
    ) -> None:
        self.grace = grace
        self.storage = storage
        self.apps = apps
        self.objects = objects
        self._asked = asyncio.Event()

    async def _size(self, kind: Kind, name: str) -> int | None:
        try:
            return int((await (await self.objects(STORES[kind])).get_info(name)).size or 0)
        except NotFoundError:
            return None

    async def _delete(self, kind: Kind, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            await (await self.objects(STORES[kind])).delete(name)

    async def adopt(self) -> None:
        """Record what the apps name for their owners, where nothing says so yet (stores
        filled before ownership was recorded)."""
        adopted = await self.storage.adopt(await self.apps.list(), self._size)
        if adopted:
            log.info("recorded the owners of %d stored contexts and files from before", adopted)

    async def sweep(self) -> float | None:
        """Release what no app uses; returns when the next unused upload's grace ends."""
        result = await self.storage.release_unused(await self.apps.list(), self._delete, grace=self.grace)
        if result.released:
            log.info("released %d stored contexts and files no app uses", len(result.released))
        return result.next_due

    def soon(self) -> None:
        """Ask for a sweep (an app went, or its spec changed)."""
        self._asked.set()

    async def run(self, stop: asyncio.Event) -> None:
        wait = SWEEP_EVERY_SECONDS
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._asked.wait(), wait)
            await asyncio.sleep(SETTLE_SECONDS)
            self._asked.clear()
            wait = SWEEP_EVERY_SECONDS
            try:
                due = await self.sweep()
            except Exception:  # noqa: BLE001 - NATS may be restarting: the next sweep does it
                log.exception("the storage sweep failed")
                continue
            if due is not None:  # an unused upload still in its grace: come back when it ends
                wait = max(0.0, min(wait, due - time.time()))
