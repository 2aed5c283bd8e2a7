"""Fair shares of what all users draw on together, counted per user: live streams (an app's
logs followed by the deployer, the events replayed and followed from the stream). Past their
share a user is answered 429 with Retry-After, and everyone else keeps theirs.

(Lab loads have their own per-owner count in lab.py; networks are counted by admission.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from fastapi import HTTPException, status

Kind = Literal["logs", "events"]
RETRY_AFTER_SECONDS = 5


@dataclass
class Shares:
    """How many of each kind one user may hold at once, and how many they hold (this API's)."""

    per_user: dict[Kind, int]
    held: Counter[tuple[Kind, str]] = field(default_factory=Counter)

    def take(self, kind: Kind, user: str) -> Held:
        """Take one, or raise 429 saying how many the user holds."""
        limit = self.per_user[kind]
        if self.held[(kind, user)] >= limit:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"you have {limit} {kind} streams open already (the most one user may); close one first",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.held[(kind, user)] += 1
        return Held(self, kind, user)

    def _give_back(self, kind: Kind, user: str) -> None:
        self.held[(kind, user)] -= 1
        if self.held[(kind, user)] <= 0:
            del self.held[(kind, user)]


class Held:
    """One share taken: given back once, when released or when nothing refers to it any more
    (a stream whose body was never read: its generator never ran its ``finally``)."""

    def __init__(self, shares: Shares, kind: Kind, user: str) -> None:
        self._shares, self._kind, self._user = shares, kind, user
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._shares._give_back(self._kind, self._user)

    def __del__(self) -> None:
        self.release()
