"""In-memory peers of the reconciler, for its unit tests: a container platform (the runtime
seam, runtime.py), an apps bucket and a bus. No Docker, no NATS: what a test wants to happen to
a replica (it dies, it is left half made) it does by hand."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from crane_deployer.container_spec import ReplicaSpec
from crane_deployer.naming import LABEL_APP, LABEL_REPLICA, LABEL_SERVICE, LABEL_SPEC_HASH, Naming
from crane_deployer.plan import Replica
from crane_deployer.runtime import Archive, EngineError
from crane_shared.correlation import current_chain
from crane_shared.events import Event, new_event


class MemoryRuntime:
    """Replicas, networks and volumes as dicts and sets. ``calls`` lists what was asked of it
    that changes something, in order."""

    def __init__(self, naming: Naming) -> None:
        self.naming = naming
        self.replicas: dict[str, Replica] = {}
        self.app_of: dict[str, str] = {}  # container id -> app id
        self.networks: dict[str, str] = {}  # name -> app id
        self.routed: set[str] = set()
        self.volumes: dict[str, str] = {}  # name -> app id
        self.images: set[str] = set()
        self.image_label_sets: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []
        self._ids = itertools.count(1)

    # --- the seam -------------------------------------------------------------------------
    async def observe(self, app_id: str) -> list[Replica]:
        return [r for cid, r in self.replicas.items() if self.app_of[cid] == app_id]

    async def ensure_network(self, name: str, labels: dict[str, str], internal: bool = False) -> None:
        if name not in self.networks:
            self.calls.append(f"network {name}")
        self.networks[name] = labels[LABEL_APP]

    async def attach_router(self, network: str) -> None:
        self.routed.add(network)

    async def has_image(self, image: str) -> bool:
        return image in self.images

    async def image_labels(self, image: str) -> dict[str, str]:
        return self.image_label_sets.get(image, {})

    async def ensure_volumes(self, spec: ReplicaSpec, labels: dict[str, str]) -> None:
        for name in spec.named_volumes:
            owner = self.volumes.setdefault(name, labels[LABEL_APP])
            if owner != labels[LABEL_APP]:
                raise EngineError(f"the volume {name} belongs to the app {owner}")

    async def seed_volume(self, volume: str, image: str, archive: Archive, labels: dict[str, str]) -> bool:
        if volume in self.volumes:
            return False
        await archive()
        self.volumes[volume] = labels[LABEL_APP]
        return True

    async def fill_files_volume(self, volume: str, image: str, archive: Archive, labels: dict[str, str]) -> None:
        self.volumes.setdefault(volume, labels[LABEL_APP])

    async def create_and_start(self, spec: ReplicaSpec) -> str:
        existing = next((cid for cid, r in self.replicas.items() if r.name == spec.name), None)
        if existing:  # the slot's name is taken: that replica is the one
            await self.start(existing, spec.name)
            return existing
        cid = f"c{next(self._ids)}"
        self.replicas[cid] = Replica(
            container_id=cid,
            name=spec.name,
            service=spec.labels[LABEL_SERVICE],
            index=int(spec.labels[LABEL_REPLICA]),
            spec_hash=spec.labels[LABEL_SPEC_HASH],
            state="running",
        )
        self.app_of[cid] = spec.labels[LABEL_APP]
        self.calls.append(f"create {spec.name}")
        return cid

    async def start(self, container_id: str, name: str, links: bytes | None = None) -> None:
        self.replicas[container_id] = replace(self.replicas[container_id], state="running", exit_code=None)
        self.calls.append(f"start {name}")

    async def host_binds(self, container_id: str) -> list[str]:
        return []

    async def remove(self, container_id: str) -> None:
        gone = self.replicas.pop(container_id, None)
        self.app_of.pop(container_id, None)
        if gone:
            self.calls.append(f"remove {gone.name}")

    async def remove_app(self, app_id: str) -> None:
        for cid in [cid for cid, app in self.app_of.items() if app == app_id]:
            await self.remove(cid)
        self.networks = {n: a for n, a in self.networks.items() if a != app_id}
        self.volumes = {v: a for v, a in self.volumes.items() if a != app_id}

    # --- what a test does to it -----------------------------------------------------------
    def exit(self, container_id: str, code: int) -> Replica:
        """The replica's process ends with ``code`` (the platform keeps the container)."""
        self.replicas[container_id] = replace(self.replicas[container_id], state="exited", exit_code=code)
        return self.replicas[container_id]

    def leave_created(self, app_id: str, service: str, index: int, spec_hash: str) -> str:
        """A container made but never started: a deployer stopped between the two."""
        cid = f"c{next(self._ids)}"
        name = self.naming.container(app_id, service, index)
        self.replicas[cid] = Replica(cid, name, service, index, spec_hash, state="created")
        self.app_of[cid] = app_id
        return cid

    def of(self, app_id: str, service: str | None = None, state: str | None = None) -> list[Replica]:
        return sorted(
            (
                r
                for cid, r in self.replicas.items()
                if self.app_of[cid] == app_id and service in (None, r.service) and state in (None, r.state)
            ),
            key=lambda r: (r.service, r.index),
        )


@dataclass
class _Entry:
    value: bytes
    revision: int


class MemoryKV:
    """The part of a NATS key-value bucket AppStore uses, with revisions."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self._revisions = itertools.count(1)

    async def get(self, key: str) -> _Entry:
        if key not in self.entries:
            raise KeyNotFoundError
        return self.entries[key]

    async def put(self, key: str, value: bytes) -> int:
        revision = next(self._revisions)
        self.entries[key] = _Entry(value, revision)
        return revision

    async def create(self, key: str, value: bytes) -> int:
        if key in self.entries:
            raise KeyWrongLastSequenceError
        return await self.put(key, value)

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        if key not in self.entries or self.entries[key].revision != last:
            raise KeyWrongLastSequenceError
        return await self.put(key, value)

    async def purge(self, key: str) -> None:
        self.entries.pop(key, None)


class MemoryBus:
    """Keeps what is published, in order."""

    service = "deployer"

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    async def emit(self, subject: str, payload: Any, **attrs: Any) -> Event:
        attrs.setdefault("correlationid", current_chain())
        event = new_event(subject, payload, source=f"crane/{self.service}", **attrs)
        await self.publish(event)
        return event

    def of_type(self, subject: str) -> list[Event]:
        return [e for e in self.events if e.type == subject]
