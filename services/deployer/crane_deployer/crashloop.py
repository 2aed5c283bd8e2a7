"""Crash-loop back-off (pure, with an injectable clock): a replica that exits soon after it was
created is recreated after 1, 2, 4 ... up to 60 seconds, and after three quick exits in a row
the app is reported failed with the exit code, instead of burning the CPU on recreating it.

A slot is (app id, service, replica index, spec hash): a new spec starts with a clean history.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Slot = tuple[str, str, int, str]


@dataclass
class SlotHistory:
    created_at: float = 0.0
    quick_exits: int = 0
    last_exit_code: int | None = None
    not_before: float = 0.0


class CrashTracker:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        quick_exit_seconds: float = 10.0,
        fail_after: int = 3,
    ) -> None:
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.quick_exit_seconds = quick_exit_seconds
        self.fail_after = fail_after
        self._slots: dict[Slot, SlotHistory] = {}

    def created(self, slot: Slot) -> None:
        self._slots.setdefault(slot, SlotHistory()).created_at = self.clock()

    def exited(self, slot: Slot, exit_code: int | None) -> None:
        """A replica of ``slot`` exited without being asked to."""
        history = self._slots.setdefault(slot, SlotHistory(created_at=self.clock()))
        now = self.clock()
        history.last_exit_code = exit_code
        if now - history.created_at < self.quick_exit_seconds:
            history.quick_exits += 1
            delay = min(self.max_delay, self.base_delay * 2 ** (history.quick_exits - 1))
            history.not_before = now + delay
        else:  # it ran for a while (e.g. was killed): replace it at once
            history.quick_exits = 0
            history.not_before = now

    def wait_before_create(self, slot: Slot) -> float:
        history = self._slots.get(slot)
        return max(0.0, history.not_before - self.clock()) if history else 0.0

    def failure(self, slots: Iterable[Slot]) -> str | None:
        """Why the app counts as failed, if one of ``slots`` keeps exiting."""
        for slot in slots:
            history = self._slots.get(slot)
            if history and history.quick_exits >= self.fail_after:
                _, service, index, _ = slot
                return (
                    f"service {service} replica {index} keeps exiting right after it starts "
                    f"(exit code {history.last_exit_code}, {history.quick_exits} times in a row); "
                    "see POST /apps/{id}/logs"
                )
        return None

    def forget(self, app_id: str) -> None:
        for slot in [s for s in self._slots if s[0] == app_id]:
            del self._slots[slot]
