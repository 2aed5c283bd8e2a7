"""The deployer's pure core: compare the replicas an app should have with the containers that
exist, and list the actions that close the gap.

Every replica has a fixed slot (service, index) and a fixed container name, so a deployer that
dies half way and runs the plan again can never create a second container for a slot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

LIVE_STATES = {"running", "restarting"}
Slots = dict[str, tuple[int, str]]  # service -> (replicas, spec hash): what should run


@dataclass(frozen=True)
class Replica:
    """A container the Engine reports for an app."""

    container_id: str
    name: str
    service: str
    index: int
    spec_hash: str
    state: str  # created, running, restarting, exited, dead, paused, removing
    health: str | None = None  # None when the image has no healthcheck
    exit_code: int | None = None  # of an exited container

    @property
    def ready(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")

    @property
    def completed(self) -> bool:
        """Exited by itself with success (a one-shot job that is done)."""
        return self.state == "exited" and self.exit_code == 0


def stays_exited(replica: Replica, restart: str) -> bool:
    """Whether an exited replica is left as it is, by Compose's restart policy: ``no`` keeps
    every exit, ``on-failure`` keeps a success; ``always`` and ``unless-stopped`` replace it."""
    if replica.state not in ("exited", "dead"):
        return False
    if restart == "no":
        return True
    return restart.startswith("on-failure") and replica.exit_code == 0


@dataclass(frozen=True)
class Create:
    service: str
    index: int


@dataclass(frozen=True)
class Start:
    container_id: str
    name: str


@dataclass(frozen=True)
class Remove:
    container_id: str
    name: str
    reason: str


Action = Create | Start | Remove


def plan_replicas(
    desired: dict[str, tuple[int, str]], observed: list[Replica], restart: Mapping[str, str] | None = None
) -> list[Action]:
    """Actions that turn ``observed`` into ``desired`` (service -> (replicas, spec hash)), with
    each service's restart policy (``always`` when absent).

    Removals come first, so a slot's old container is gone before its new one takes the name.
    """
    restart = restart or {}
    by_slot: dict[tuple[str, int], list[Replica]] = defaultdict(list)
    for replica in observed:
        by_slot[(replica.service, replica.index)].append(replica)

    removes: list[Action] = []
    rest: list[Action] = []
    for service, (count, spec_hash) in sorted(desired.items()):
        for index in range(count):
            keep = _pick_keeper(by_slot.pop((service, index), []), spec_hash, restart.get(service, "always"), removes)
            if keep is None:
                rest.append(Create(service, index))
            elif keep.state == "created":
                rest.append(Start(keep.container_id, keep.name))
    for (service, _index), extras in sorted(by_slot.items()):
        reason = "service removed" if service not in desired else f"above {desired[service][0]} replicas"
        removes.extend(Remove(r.container_id, r.name, reason) for r in extras)
    return removes + rest


def _pick_keeper(candidates: list[Replica], spec_hash: str, restart: str, removes: list[Action]) -> Replica | None:
    """Keep the best current container of a slot; queue every other one for removal."""
    current = [
        r
        for r in candidates
        if r.spec_hash == spec_hash and (r.state in LIVE_STATES | {"created"} or stays_exited(r, restart))
    ]
    current.sort(key=lambda r: (r.state != "running", r.container_id))
    keep = current[0] if current else None
    for replica in candidates:
        if replica is keep:
            continue
        if replica.spec_hash != spec_hash:
            reason = "spec changed"
        elif replica.state in LIVE_STATES | {"created"}:
            reason = "duplicate replica"
        else:
            reason = f"container {replica.state}"
        removes.append(Remove(replica.container_id, replica.name, reason))
    return keep


def ready_by_service(
    desired: dict[str, tuple[int, str]], observed: list[Replica], restart: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Ready, current replicas of each service (never more than it should have). A one-shot
    replica (restart no or on-failure) that completed counts as ready: its work is done."""
    restart = restart or {}

    def counts(replica: Replica) -> bool:
        return replica.ready or (replica.completed and restart.get(replica.service, "always") != "always")

    return {
        service: len(
            {
                r.index
                for r in observed
                if r.service == service and r.spec_hash == spec_hash and r.index < count and counts(r)
            }
        )
        for service, (count, spec_hash) in desired.items()
    }


def exit_failure(
    desired: dict[str, tuple[int, str]], observed: list[Replica], restart: Mapping[str, str]
) -> str | None:
    """Why the app failed when a replica that is not replaced exited with an error."""
    for replica in sorted(observed, key=lambda r: (r.service, r.index)):
        count, spec_hash = desired.get(replica.service, (0, ""))
        policy = restart.get(replica.service, "always")
        if (
            replica.spec_hash == spec_hash
            and replica.index < count
            and stays_exited(replica, policy)
            and not replica.completed
        ):
            return f"service {replica.service} exited with code {replica.exit_code} (restart: {policy})"
    return None


@dataclass(frozen=True)
class PassPlan:
    """What one reconcile pass does, decided before anything is done (plan_pass)."""

    build: list[str]  # services whose image is built first; their replicas stay as they are
    remove: list[Remove]
    bring_up: list[Create | Start]  # created or started side by side, once the gates agree
    gated: set[str]  # services of the creations the gates judge (backing-off ones included)
    starting: set[str]  # services of the replicas started again (their host paths are judged anew)
    held: dict[str, str]  # service -> what its new replicas wait for (a dependency)
    retry_in: float | None  # when a pass should come back for what waits (None: nothing waits)

    @property
    def changes_replicas(self) -> bool:
        return bool(self.remove or self.bring_up)


DEPENDENCY_RETRY_SECONDS = 1.0


def plan_pass(
    actions: list[Action],
    observed: list[Replica],
    unbuilt: set[str],
    held: Mapping[str, str],
    backoff: Callable[[Create], float],
) -> PassPlan:
    """One pass, from the replica actions (plan_replicas): those of services whose image is
    not built yet are left (the image is built first), creations of services whose
    dependencies are not met (``held``) wait, and creations still in a crash-loop back-off
    (``backoff``: seconds before a slot may be made again) are left for a later pass."""
    service_of = {r.container_id: r.service for r in observed}

    def service(action: Action) -> str:
        return action.service if isinstance(action, Create) else service_of.get(action.container_id, "")

    mine = [a for a in actions if service(a) not in unbuilt]
    ups = [a for a in mine if not isinstance(a, Remove) and not (isinstance(a, Create) and a.service in held)]
    waits = {a: wait for a in ups if isinstance(a, Create) and (wait := backoff(a)) > 0}
    retry = [*([DEPENDENCY_RETRY_SECONDS] if held and mine else []), *waits.values()]
    return PassPlan(
        build=sorted(unbuilt),
        remove=[a for a in mine if isinstance(a, Remove)],
        bring_up=[a for a in ups if a not in waits],
        gated={a.service for a in ups if isinstance(a, Create)},
        starting={service(a) for a in ups if isinstance(a, Start)},
        held=dict(held) if mine else {},
        retry_in=min(retry) if retry else None,
    )
