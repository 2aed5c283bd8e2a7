"""A tiny work queue of app ids: many triggers (events, Docker, timer) collapse into one
reconcile per app, never two at once for the same app, several apps in parallel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("crane.deployer.queue")


class ReconcileQueue:
    def __init__(self, reconcile: Callable[[str], Awaitable[None]], workers: int = 4) -> None:
        self._reconcile = reconcile
        self._workers = workers
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._again: set[str] = set()

    def mark(self, app_id: str) -> None:
        """Ask for ``app_id`` to be reconciled soon (a no-op if it is already waiting)."""
        if app_id in self._active:
            self._again.add(app_id)
        elif app_id not in self._queued:
            self._queued.add(app_id)
            self._queue.put_nowait(app_id)

    def mark_later(self, app_id: str, delay: float) -> None:
        """Ask for ``app_id`` to be reconciled after ``delay`` seconds (crash back-off)."""
        asyncio.get_running_loop().call_later(delay, self.mark, app_id)

    async def run(self, stop: asyncio.Event) -> None:
        workers = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        await stop.wait()
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            app_id = await self._queue.get()
            self._queued.discard(app_id)
            self._active.add(app_id)
            try:
                await self._reconcile(app_id)
            except Exception:  # noqa: BLE001 - one app's failure must not stop the others
                log.exception("reconcile of %s failed; will retry", app_id)
                self._again.add(app_id)
                await asyncio.sleep(1)
            finally:
                self._active.discard(app_id)
            if app_id in self._again:
                self._again.discard(app_id)
                self.mark(app_id)

    async def drained(self) -> None:
        """Wait until nothing is queued or running (used at startup and by tests)."""
        while self._queued or self._active:
            await asyncio.sleep(0.05)
