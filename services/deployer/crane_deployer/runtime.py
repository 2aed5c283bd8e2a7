"""The runtime seam: what reconciling an app needs from a container platform, and nothing of
how one platform does it.

The reconciler (reconciler.py) decides with the pure plan (plan.py) and carries the plan out
through a ``Runtime``. Today's backend is one Docker Engine (engine.py); the unit tests run the
reconciler on an in-memory one (tests/unit/memory_runtime.py). A backend:

- reports an app's replicas as ``Replica`` rows (slot, spec hash, state, health, exit code),
  found by the labels ``naming.py`` gives everything CRANE makes;
- makes a replica from a ``ReplicaSpec`` (container_spec.py: image, command, limits, mounts,
  networks, labels) under its fixed slot name, reusing one that exists with that name, so a
  deployer stopped half way never makes a slot twice;
- makes and removes the app's networks and volumes, claimed by the app's labels (a volume of
  another app is refused, never shared);
- raises ``EngineError`` with a message a user can act on when the platform refuses.

Replica deaths reach the reconciler through ``Reconciler.replica_died`` (whatever the backend's
event stream), and everything else about an app is read again at each pass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from .container_spec import ReplicaSpec
from .naming import Naming
from .plan import Replica


class EngineError(RuntimeError):
    """The platform refused or failed an operation; the message says what and why."""


Archive = Callable[[], Awaitable[bytes]]  # a tar, read only when the backend needs it


class Runtime(Protocol):
    """One container platform, as the reconciler uses it."""

    naming: Naming

    async def observe(self, app_id: str) -> list[Replica]:
        """Every replica of the app, whatever its state."""
        ...

    async def ensure_network(self, name: str, labels: dict[str, str], internal: bool = False) -> None:
        """The app's network ``name`` exists (``internal``: with no way out)."""
        ...

    async def attach_router(self, network: str) -> None:
        """The suite's router can reach the replicas on ``network``."""
        ...

    async def has_image(self, image: str) -> bool: ...

    async def image_labels(self, image: str) -> dict[str, str]:
        """The labels ``image`` would give every container made from it."""
        ...

    async def ensure_volumes(self, spec: ReplicaSpec, labels: dict[str, str]) -> None:
        """The replica's named volumes exist and are the app's."""
        ...

    async def seed_volume(self, volume: str, image: str, archive: Archive, labels: dict[str, str]) -> bool:
        """Create ``volume`` holding the archive's content; an existing one is left as it is.
        True if it was seeded now."""
        ...

    async def fill_files_volume(self, volume: str, image: str, archive: Archive, labels: dict[str, str]) -> None:
        """Fill the replica's secrets-and-configs volume once (again if a fill was interrupted)."""
        ...

    async def create_and_start(self, spec: ReplicaSpec) -> str:
        """Make and start the replica (one of that name is reused); its id."""
        ...

    async def start(self, container_id: str, name: str, links: bytes | None = None) -> None:
        """Start a replica that exists (``links``: a tar of links to its files, unpacked first)."""
        ...

    async def host_binds(self, container_id: str) -> list[str]:
        """The host paths a replica mounts, as its creation named them."""
        ...

    async def remove(self, container_id: str) -> None: ...

    async def remove_app(self, app_id: str) -> None:
        """Remove every replica, network, volume and built image of the app."""
        ...
