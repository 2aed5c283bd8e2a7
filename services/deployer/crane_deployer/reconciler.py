"""Reconcile one app: read its record, observe its containers, run the plan, write back the
status and publish what changed (app.deployed, app.scaled, app.stopped, app.failed)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore
from pydantic import BaseModel

from crane_shared import subjects as s
from crane_shared.appspec import AppRecord, AppStatus
from crane_shared.bus import Bus
from crane_shared.compose import render_compose
from crane_shared.container_defaults import Limits
from crane_shared.correlation import chain_of, current_chain, following
from crane_shared.events import (
    AppDeployed,
    AppFailed,
    AppRemoved,
    AppScaled,
    AppStopped,
    ContainerCreated,
    ContainerDied,
    Event,
    new_event,
)
from crane_shared.image_refs import image_ref_problem
from crane_shared.settings import CommonSettings
from crane_shared.store import AppStore

from .builder import Builder
from .container_spec import ReplicaSpec, desired_slots, replica_spec, restart_policies
from .crashloop import CrashTracker
from .exporter import RECONCILE_SECONDS, forget_app, record_replicas
from .host_path_gate import HostPathGate, HostPathPending
from .image_labels import labels_only_crane_sets
from .image_labels import refusal as image_label_refusal
from .intents import in_chain
from .mounted_files import volume_archive
from .naming import LABEL_SPEC_HASH
from .ordering import waiting_services
from .plan import (
    Create,
    PassPlan,
    Replica,
    Slots,
    Start,
    exit_failure,
    plan_pass,
    plan_replicas,
    ready_by_service,
)
from .runtime import EngineError, Runtime
from .scan_gate import ScanGate, ScanPending
from .storage_keeper import StorageKeeper

log = logging.getLogger("crane.deployer.reconciler")


def transition_events(old: AppRecord, new: AppRecord, url: str) -> list[Event]:
    """What a status change says on the bus: app.deployed, app.scaled, app.stopped, app.failed,
    in the chain of the change the app was working towards."""
    app_id = new.id
    source = functools.partial(_of_deployer, correlationid=new.correlationid)
    if new.status == AppStatus.RUNNING:
        if old.status != AppStatus.RUNNING and old.running_replicas in (0, new.running_replicas):
            deployed = AppDeployed(
                app_id=app_id, replicas=new.running_replicas, url=url if new.spec.routed_service else None
            )
            return [source(s.APP_DEPLOYED, deployed)]
        if old.running_replicas != new.running_replicas:
            scaled = AppScaled(
                app_id=app_id,
                previous_replicas=old.running_replicas,
                replicas=new.running_replicas,
                services=new.service_replicas,
            )
            return [source(s.APP_SCALED, scaled)]
    elif new.status == AppStatus.STOPPED and old.status != AppStatus.STOPPED:
        return [source(s.APP_STOPPED, AppStopped(app_id=app_id))]
    elif new.status == AppStatus.FAILED and (old.status != AppStatus.FAILED or old.reason != new.reason):
        return [source(s.APP_FAILED, AppFailed(app_id=app_id, reason=new.reason or "unknown"))]
    return []


def _of_deployer(subject: str, payload: BaseModel, correlationid: str | None) -> Event:
    return new_event(subject, payload, source="crane/deployer", correlationid=correlationid)


def in_step(record: AppRecord, replicas: list[Replica]) -> bool:
    """Whether what runs is what the app's record says it settled at (pure): nothing to do, and
    the same ready replicas. A resync needs no pass for such an app; any other needs one."""
    if record.status not in (AppStatus.RUNNING, AppStatus.STOPPED) or record.outbox:
        return False
    desired, restart = desired_slots(record), restart_policies(record)
    if plan_replicas(desired, replicas, restart):
        return False
    return ready_by_service(desired, replicas, restart) == record.service_replicas


def next_status(record: AppRecord, ready: int, failure: str | None) -> tuple[AppStatus, str | None]:
    """The status an app has after a reconcile, from what is desired and what is ready (all
    services together; no service counts more replicas than it should have)."""
    if record.status == AppStatus.DELETING:
        return AppStatus.DELETING, None
    if failure:
        return AppStatus.FAILED, failure
    if record.desired_state == "stopped":
        return (AppStatus.STOPPED, None) if ready == 0 else (AppStatus.DEPLOYING, None)
    if ready >= record.desired_replicas:
        return AppStatus.RUNNING, None
    return AppStatus.DEPLOYING, None


class Reconciler:
    def __init__(
        self,
        bus: Bus,
        store: AppStore,
        runtime: Runtime,
        settings: CommonSettings,
        limits: Limits,
        gate: ScanGate | None = None,
        builder: Builder | None = None,
        files: Callable[[], Awaitable[ObjectStore]] | None = None,
        host_paths: HostPathGate | None = None,
        keeper: StorageKeeper | None = None,
        clock: Callable[[], float] = time.monotonic,  # the crash-loop back-off's
    ) -> None:
        self.bus = bus
        self.gate = gate
        self.host_paths = host_paths
        self.keeper = keeper
        self.builder = builder
        # Where the content of secrets and configs is kept (None: apps have none here).
        self.files = files
        self.store = store
        self.runtime = runtime
        self.settings = settings
        self.limits = limits
        self._removing: set[str] = set()  # containers the deployer itself is removing
        # Containers the Engine reported dead. Its container list can still say "running" for a
        # moment after the die event, and CRANE never restarts a container in place.
        self._died: dict[str, int | None] = {}  # container id -> its exit code
        self._crashes = CrashTracker(clock)
        # Replicas that died, by (app, service, index): the chain of their death, which the
        # replica created in their place continues (whatever else the app is asked meanwhile).
        self._replacing: dict[tuple[str, str, int], str] = {}
        # How to ask for another reconcile later (set by the deployer to its work queue).
        self.requeue: Callable[[str, float], None] = lambda app_id, delay: None

    async def replica_died(self, app_id: str, replica: Replica, chain: str | None = None) -> None:
        """A replica's container exited (the one way a death reaches the reconciler). It counts
        as exited from now on, whatever the platform still lists. Unless CRANE was removing it,
        it is a crash: counted for the back-off, and told as container.died in ``chain`` (or
        beginning one), which the app's healing and the replica made in its place continue."""
        self._died[replica.container_id] = replica.exit_code
        if replica.container_id in self._removing:
            return
        self._crashes.exited((app_id, replica.service, replica.index, replica.spec_hash), replica.exit_code)
        died = ContainerDied(
            app_id=app_id, service=replica.service, container=replica.name, exit_code=replica.exit_code
        )
        event = await self.bus.emit(s.CONTAINER_DIED, died, correlationid=chain)
        self._replacing[(app_id, replica.service, replica.index)] = chain_of(event)
        await self.store.mutate(app_id, in_chain(chain_of(event)))
        log.info("%s: replica %s exited (code %s)", app_id, replica.name, replica.exit_code)

    def replica_removed(self, container_id: str) -> None:
        """A replica's container is gone for good: nothing more to remember about it."""
        self._removing.discard(container_id)
        self._died.pop(container_id, None)

    async def reconcile(self, app_id: str) -> None:
        record = await self.store.get(app_id)
        if record is None:
            await self.runtime.remove_app(app_id)
            return
        with following(record.correlationid):  # builds, scans and removals are part of its chain
            await self._reconcile(record)

    async def _reconcile(self, record: AppRecord) -> None:
        started, app_id = time.monotonic(), record.id
        if record.outbox:  # left by a deployer that stopped between a change and its events
            await self.flush_outbox(record)
        if record.status == AppStatus.DELETING:
            # Announced first, under a fixed id: a crash before the record is gone repeats it
            # and the stream drops the copy, so app.removed is neither lost nor doubled.
            await self.bus.emit(
                s.APP_REMOVED, AppRemoved(app_id=app_id), id=f"removed-{app_id}-{record.created_at.timestamp()}"
            )
            await self.forget(app_id)
            return
        desired, restart = desired_slots(record), restart_policies(record)
        observed = await self._observe(app_id)
        failure, changed = None, True
        try:
            changed = await self._converge(record, desired, restart, observed)
        except EngineError as exc:
            failure = str(exc)
            log.warning("app %s failed: %s", app_id, failure)
        except (ScanPending, HostPathPending) as exc:
            log.info("app %s waits for a verdict: %s", app_id, exc)
            self.requeue(app_id, 2.0)
        if changed:  # what the pass did (or began, before it stopped) is observed again
            observed = await self._observe(app_id)
        failure = failure or self._crashes.failure(
            (app_id, service, index, spec_hash)
            for service, (count, spec_hash) in desired.items()
            for index in range(count)
        )
        failure = failure or exit_failure(desired, observed, restart)
        ready = ready_by_service(desired, observed, restart)
        await self._record_outcome(app_id, ready, failure, record.correlationid)
        await self._export_compose(record)
        record_replicas(app_id, {name: count for name, (count, _) in desired.items()}, ready)
        RECONCILE_SECONDS.labels("failed" if failure else "ok").observe(time.monotonic() - started)

    async def _observe(self, app_id: str) -> list[Replica]:
        replicas = await self.runtime.observe(app_id)
        return [
            replace(r, state="exited", exit_code=self._died[r.container_id]) if r.container_id in self._died else r
            for r in replicas
        ]

    async def _converge(
        self, record: AppRecord, desired: Slots, restart: dict[str, str], observed: list[Replica]
    ) -> bool:
        """Plan the pass (plan.py) and carry it out; whether replicas were changed."""
        if record.desired_replicas:
            await self._ensure_networks(record)
        actions = plan_replicas(desired, observed, restart)
        if not actions:
            return False
        unbuilt = await self._services_to_build(record)
        held = waiting_services(record.spec, desired, observed)
        plan = plan_pass(actions, observed, unbuilt, held, functools.partial(self._backoff, record, desired))
        # Services whose image must be built first wait for their build, which runs beside the
        # reconcile workers (builder.py): the app is reconciled again when it ends, and until then
        # those services' replicas stay as they are (a failed build leaves the old ones running).
        build_failure: EngineError | None = None
        for name in plan.build:
            service = record.spec.service(name)
            if self.builder and service is not None:
                try:
                    self.builder.request(record, service)
                except EngineError as exc:  # its last build failed: said after the others' actions
                    build_failure = build_failure or exc
        await self._carry_out(record, plan)
        if build_failure:
            raise build_failure
        return plan.changes_replicas

    async def _ensure_networks(self, record: AppRecord) -> None:
        """The app's networks, and the router on the routed one: checked on every pass, not only
        on changes, so a recreated router joins again."""
        naming = self.runtime.naming
        labels = naming.app_labels(record.id, record.owner)
        for name in record.spec.used_networks:
            internal = name in record.spec.networks and record.spec.networks[name].internal
            await self.runtime.ensure_network(naming.app_network(record.id, name), labels, internal)
        routed = record.spec.routed_service
        if routed:
            await self.runtime.attach_router(naming.app_network(record.id, routed.network_names[0]))

    async def _services_to_build(self, record: AppRecord) -> set[str]:
        """Running services whose image is not built yet."""
        naming = self.runtime.naming
        return {
            s.name
            for s in record.spec.services
            if s.build is not None
            and record.desired(s) > 0
            and not await self.runtime.has_image(naming.image(record.id, s))
        }

    async def _carry_out(self, record: AppRecord, plan: PassPlan) -> None:
        """Removals, then the creations and starts side by side, once the gates agree (host
        paths, image references and labels, the scan)."""
        for action in plan.remove:
            log.info("%s: removing %s (%s)", record.id, action.name, action.reason)
            self._removing.add(action.container_id)
            await self.runtime.remove(action.container_id)
        if plan.held:  # created once what they depend on is up
            log.info("%s: %s", record.id, "; ".join(f"{name} {why}" for name, why in sorted(plan.held.items())))
        if plan.retry_in is not None:
            self.requeue(record.id, plan.retry_in)
        judged: dict[str, str] = {}  # host paths as written -> where they lead: what replicas mount
        if self.host_paths and (plan.bring_up or plan.gated):  # a start mounts its binds anew too
            judged = await self.host_paths.check(record, plan.gated | plan.starting)
        if plan.gated:
            self._refuse_image_refs(record, plan.gated)
            await self._refuse_reserved_image_labels(record, plan.gated, judged)
            if self.gate:
                naming = self.runtime.naming
                images = [naming.image(record.id, s) for s in record.spec.services if s.name in plan.gated]
                await self.gate.check(record, images)  # raises ScanBlocked (a failure) or ScanPending
        # Replicas are independent: create and start them side by side.
        outcomes = await asyncio.gather(
            *(self._bring_up(record, a, judged) for a in plan.bring_up), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    @staticmethod
    def _refuse_image_refs(record: AppRecord, services: set[str]) -> None:
        """EngineError when a service names an image a tenant may not run (an id, CRANE's own
        images: image_refs.py), before the Engine is asked anything about it."""
        for service in record.spec.services:
            if service.name in services and service.build is None and service.image:
                problem = image_ref_problem(service.image)
                if problem:
                    raise EngineError(f"services.{service.name}.image: {problem}")

    async def _refuse_reserved_image_labels(
        self, record: AppRecord, services: set[str], judged: dict[str, str]
    ) -> None:
        """EngineError when a service's image would bring labels that steer routing or CRANE
        onto its replicas (image_labels.py)."""
        for service in record.spec.services:
            if service.name not in services:
                continue
            spec = replica_spec(record, service, 0, self.runtime.naming, self.limits, judged)
            keys = labels_only_crane_sets(await self.runtime.image_labels(spec.image), spec.labels)
            if keys:
                raise EngineError(image_label_refusal(service.name, spec.image, keys))

    def _backoff(self, record: AppRecord, desired: Slots, action: Create) -> float:
        return self._crashes.wait_before_create((record.id, action.service, action.index, desired[action.service][1]))

    async def _bring_up(self, record: AppRecord, action: Create | Start, judged: dict[str, str]) -> None:
        naming = self.runtime.naming
        if isinstance(action, Start):
            replica = next((r for r in await self._observe(record.id) if r.container_id == action.container_id), None)
            service = record.spec.service(replica.service) if replica else None
            if replica is None or service is None:
                return  # gone meanwhile: the next reconcile sees what is there
            if self.host_paths:
                binds = await self.runtime.host_binds(action.container_id)
                self.host_paths.check_binds(action.name, binds, judged)
            spec = replica_spec(record, service, replica.index, naming, self.limits, judged)
            await self._fill_files(record, spec)
            await self.runtime.start(action.container_id, action.name, spec.links)
            return
        service = next(s for s in record.spec.services if s.name == action.service)
        spec = replica_spec(record, service, action.index, naming, self.limits, judged)
        await self._seed_volumes(record, spec)
        await self.runtime.ensure_volumes(spec, naming.app_labels(record.id, record.owner))
        await self._fill_files(record, spec)
        if self.host_paths:  # (seeding, files and the scan took time: the folders are looked at again)
            self.host_paths.check_binds(spec.name, spec.host_binds, judged)
        log.info("%s: creating %s", record.id, spec.name)
        self._crashes.created((record.id, action.service, action.index, spec.labels[LABEL_SPEC_HASH]))
        await self.runtime.create_and_start(spec)
        created = ContainerCreated(app_id=record.id, service=action.service, container=spec.name, replica=action.index)
        with following(self._replacing.pop((record.id, action.service, action.index), None) or current_chain()):
            await self.bus.emit(s.CONTAINER_CREATED, created)

    async def _seed_volumes(self, record: AppRecord, spec: ReplicaSpec) -> None:
        """Create the replica's seeded volumes (bind-mounted folders uploaded with the app) with
        their content; a volume that exists keeps its data."""
        naming = self.runtime.naming
        for volume, digest in record.spec.seeds.items():
            full = naming.volume(record.id, volume, record.volume_names)
            if full not in spec.named_volumes or self.builder is None:
                continue
            archive = functools.partial(self.builder.context_bytes, digest, record.owner)
            labels = naming.app_labels(record.id, record.owner)
            if await self.runtime.seed_volume(full, spec.image, archive, labels):
                log.info("%s: volume %s filled with its uploaded folder", record.id, full)

    async def _fill_files(self, record: AppRecord, spec: ReplicaSpec) -> None:
        """Fill the replica's files volume with its secrets and configs (read from the files
        object store; their content is never logged)."""
        if spec.files_volume is None or self.files is None:
            return
        files = self.files

        async def archive() -> bytes:  # read only when the volume is not filled yet
            store = await files()
            contents = []
            for file in spec.files:
                if self.keeper and not await self.keeper.storage.owns("file", file.file_id, record.owner):
                    raise EngineError(
                        f"the content of {file.path} was not uploaded by the app's owner: upload it again"
                    )
                try:
                    contents.append((file, bytes((await store.get(file.file_id)).data or b"")))
                except NotFoundError as exc:
                    raise EngineError(f"the content of {file.path} is missing: upload it again") from exc
            return volume_archive(contents)

        labels = self.runtime.naming.app_labels(record.id, record.owner)
        await self.runtime.fill_files_volume(spec.files_volume, spec.image, archive, labels)

    async def _record_outcome(self, app_id: str, ready: dict[str, int], failure: str | None, chain: str | None) -> None:
        def change(record: AppRecord) -> AppRecord:
            old = record.model_copy()
            record.reconciled_chain = chain  # (the chain the pass began with, not one asked since)
            record.status, record.reason = next_status(record, sum(ready.values()), failure)
            record.running_replicas = sum(ready.values())
            record.service_replicas = dict(ready)
            events = transition_events(old, record, self.settings.app_url(app_id))
            record.outbox.extend(event.model_dump(mode="json") for event in events)
            return record

        after = await self.store.mutate(app_id, change)
        if after is not None and after.outbox:
            await self.flush_outbox(after)

    async def flush_outbox(self, record: AppRecord) -> None:
        """Publish the record's pending events, then drop them from it."""
        for raw in record.outbox:
            await self.bus.publish(Event.model_validate(raw))
        sent = {raw["id"] for raw in record.outbox}

        def clear(current: AppRecord) -> AppRecord:
            current.outbox = [raw for raw in current.outbox if raw["id"] not in sent]
            return current

        await self.store.mutate(record.id, clear)

    async def _export_compose(self, record: AppRecord) -> None:
        """Keep the portable compose file of the app next to its record."""
        await self.store.keep_compose(record.id, render_compose(record, self.limits).encode())

    async def forget(self, app_id: str) -> None:
        """Remove everything the app had: containers, networks, volumes, images, record,
        compose file; its uploads are released by the storage keeper (unless a clone names them)."""
        record = await self.store.get(app_id)
        for replica in await self.runtime.observe(app_id):
            self._removing.add(replica.container_id)
        await self.runtime.remove_app(app_id)
        self._crashes.forget(app_id)
        self._replacing = {slot: chain for slot, chain in self._replacing.items() if slot[0] != app_id}
        if self.host_paths:
            self.host_paths.forget(app_id)
        forget_app(app_id)
        await self.store.remove(app_id)
        if self.keeper:  # its uploads, unless another app of its owner names them
            self.keeper.soon()
        if self.builder and record is not None:  # its images went with it
            await self.builder.count_build_cache(record.owner)
        if self.gate:
            await self.gate.forget(app_id)
        if self.builder:
            await self.builder.forget(app_id)
