"""Host paths judged where they lead, just before a replica that mounts one is created or
started (Docker follows a bind mount's symlinks anew at every start): each path is resolved on
the host (crane_shared.host_paths), refused if it leads where CRANE never mounts, and, when it
leads somewhere other than it says, the admission policy is asked again about the place it
really leads to (an allow-listed folder holding a link to / is refused)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from crane_shared.admission import AdmissionUnavailable, admission_refusals
from crane_shared.appspec import AppRecord, AppSpec
from crane_shared.bus import Bus
from crane_shared.host_paths import Unresolvable, denied, resolve_under
from crane_shared.units import parse_volume

from .engine import EngineError


class HostPathRefused(EngineError):
    """A host path that leads somewhere the app may not mount: the app fails, saying where."""


class HostPathPending(RuntimeError):
    """The admission policy did not answer about a resolved path: try again shortly."""


class HostPathGate:
    def __init__(self, bus: Bus, root: Path) -> None:
        self.bus = bus
        self.root = root
        self._admitted: dict[str, str] = {}  # app id -> digest of the resolved spec the policy allowed

    async def check(self, record: AppRecord, services: set[str]) -> None:
        raw = record.spec.model_dump(mode="json")
        moved = False
        for si, service in enumerate(record.spec.services):
            if service.name not in services:
                continue
            for vi, volume in enumerate(service.volumes):
                mount = parse_volume(volume)
                if not mount.is_host_path:
                    continue
                where = f"services.{service.name}.volumes.{vi}"
                try:
                    resolved = resolve_under(self.root, mount.source)
                except Unresolvable as exc:
                    raise HostPathRefused(f"{where}: {exc}") from None
                reason = denied(resolved)
                if reason:
                    raise HostPathRefused(f"{where}: {mount.source} leads to {reason}")
                if resolved != mount.source:
                    raw["services"][si]["volumes"][vi] = f"{resolved}:{mount.target}:{mount.mode}"
                    moved = True
        if not moved:
            return  # the policy judged these very paths when it admitted the app
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
        if self._admitted.get(record.id) == digest:
            return
        try:
            reasons = await admission_refusals(self.bus, record.owner, AppSpec.model_validate(raw), record.id)
        except (NatsTimeout, NoRespondersError, AdmissionUnavailable) as exc:
            raise HostPathPending(f"the admission policy did not answer about resolved host paths: {exc!r}") from None
        if reasons:
            raise HostPathRefused(
                "after following symbolic links, refused by the admission policy: " + "; ".join(reasons)
            )
        self._admitted[record.id] = digest

    def forget(self, app_id: str) -> None:
        self._admitted.pop(app_id, None)
