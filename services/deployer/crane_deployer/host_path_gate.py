"""Host paths judged where they lead, just before a replica that mounts one is created or
started (Docker follows a bind mount's symlinks anew at every start): each path is resolved on
the host (crane_shared.host_paths), refused if it leads where CRANE never mounts, and, when it
leads somewhere other than it says, the admission policy is asked again about the place it
really leads to (an allow-listed folder holding a link to / is refused).

A replica then mounts the place judged, not the path as written: a link changed after the
check cannot move the mount (a replica that stops is replaced, judged anew, never restarted).
Just before a replica is created (after its volumes, files and the image scan, which take
time), and before one created earlier but never started starts, each folder it mounts must
still lead to itself, or to a place just judged: a link put into it meanwhile is refused.
What remains is the moment between that look and Docker's mount: a folder on the judged path
replaced by a link within it would still be followed."""

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

from .runtime import EngineError


class HostPathRefused(EngineError):
    """A host path that leads somewhere the app may not mount: the app fails, saying where."""


class HostPathPending(RuntimeError):
    """The admission policy did not answer about a resolved path: try again shortly."""


class HostPathGate:
    def __init__(self, bus: Bus, root: Path) -> None:
        self.bus = bus
        self.root = root
        self._admitted: dict[str, str] = {}  # app id -> digest of the resolved spec the policy allowed

    async def check(self, record: AppRecord, services: set[str]) -> dict[str, str]:
        """Judge the host paths of ``services``; returns where each leads ({path as written:
        resolved path}), which is what their replicas mount."""
        raw = record.spec.model_dump(mode="json")
        resolved_paths: dict[str, str] = {}
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
                resolved_paths[mount.source] = resolved
                if resolved != mount.source:
                    raw["services"][si]["volumes"][vi] = f"{resolved}:{mount.target}:{mount.mode}"
                    moved = True
        if not moved:
            return resolved_paths  # the policy judged these very paths when it admitted the app
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
        if self._admitted.get(record.id) == digest:
            return resolved_paths
        try:
            reasons = await admission_refusals(self.bus, record.owner, AppSpec.model_validate(raw), record.id)
        except (NatsTimeout, NoRespondersError, AdmissionUnavailable) as exc:
            raise HostPathPending(f"the admission policy did not answer about resolved host paths: {exc!r}") from None
        if reasons:
            raise HostPathRefused(
                "after following symbolic links, refused by the admission policy: " + "; ".join(reasons)
            )
        self._admitted[record.id] = digest
        return resolved_paths

    def check_binds(self, name: str, sources: list[str], judged: dict[str, str]) -> None:
        """Before the replica ``name`` is created, or starts having been created earlier: each
        host folder it mounts (``sources``) must still lead to itself, or to a place ``check``
        just judged; one that now leads elsewhere (a link put into it since) is refused."""
        for source in sources:
            try:
                resolved = resolve_under(self.root, source)
            except Unresolvable as exc:
                raise HostPathRefused(f"{name}: {exc}") from None
            reason = denied(resolved)
            if reason:
                raise HostPathRefused(f"{name}: its mount {source} now leads to {reason}")
            if resolved != source and resolved not in judged.values():
                raise HostPathRefused(
                    f"{name}: its mount {source} now leads to {resolved} (a symbolic link put into it since it was "
                    "created); recreate the app to judge it again"
                )

    def forget(self, app_id: str) -> None:
        self._admitted.pop(app_id, None)
