"""Causal chains: every event of one chain carries the same ``correlationid``.

A chain begins with an event that has none (a user's request, an alert, a replica that died on
its own); its id is the chain's. Whatever a service publishes while it handles an event, or while
it works for an app on behalf of the change that is pending on it, belongs to that event's chain.
The bus (``Bus._deliver``, ``Bus.emit``) and the deployer's reconciler set and read the chain
here, so handlers never pass it by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .events import Event

_CURRENT: ContextVar[str | None] = ContextVar("crane_chain", default=None)


def chain_of(event: Event) -> str:
    """The chain ``event`` belongs to: its correlation id, or its own id when it begins one."""
    return event.correlationid or event.id


def current_chain() -> str | None:
    """The chain the running code works for, if any."""
    return _CURRENT.get()


@contextmanager
def following(chain: str | None) -> Iterator[None]:
    """Run the block as part of ``chain`` (``None``: of no chain)."""
    token = _CURRENT.set(chain)
    try:
        yield
    finally:
        _CURRENT.reset(token)
