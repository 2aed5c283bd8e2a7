"""Deployer wiring: consume app intents, follow Docker's events, resync on a timer, answer
logs/stats requests. One deployer per suite."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta
from typing import Any

import uvicorn
from pydantic import BaseModel

from crane_shared import subjects as s
from crane_shared.build_context import ContextLimits
from crane_shared.bus import Bus, Handler
from crane_shared.correlation import current_chain
from crane_shared.events import AppKillRequested, Event, InvalidEvent
from crane_shared.rpc import ContainersAnswer, LogsRequest, StatsRequest
from crane_shared.service import configure_logging, connect_service_bus, stop_on_signals, wait_or_stop
from crane_shared.storage import Storage
from crane_shared.store import AppStore
from crane_shared.tokens import Authenticator, Tokens, verifying_key
from crane_shared.users import UserStore

from .builder import Builder
from .client_intents import ClientIntents
from .docker_events import follow_container_events
from .engine import Addressing, Engine
from .exporter import StatsCollector, metrics_app
from .host_path_gate import HostPathGate
from .intents import IntentHandlers
from .log_follower import LogFollowers
from .naming import LABEL_APP, LABEL_REPLICA, LABEL_SERVICE, LABEL_SPEC_HASH, Naming
from .plan import Replica
from .reconciler import Reconciler, in_step
from .scan_gate import ScanGate
from .scan_sandbox import ScanSandbox
from .settings import DeployerSettings
from .storage_keeper import StorageKeeper
from .trivy import Trivy, find_trivy
from .upload_shares import UploadShares
from .workqueue import ReconcileQueue

log = logging.getLogger("crane.deployer")


class Deployer:
    def __init__(
        self,
        settings: DeployerSettings,
        bus: Bus,
        store: AppStore,
        engine: Engine,
        gate: ScanGate | None = None,
        builder: Builder | None = None,
        keeper: StorageKeeper | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.store = store
        self.engine = engine
        self.reconciler = Reconciler(
            bus,
            store,
            engine,
            settings,
            settings.limits,
            gate,
            builder,
            lambda: bus.objects(s.FILES_OBJECTS),
            HostPathGate(bus, settings.host_root),
            keeper,
        )
        self.queue = ReconcileQueue(self.reconciler.reconcile, workers=settings.workers)
        self.reconciler.requeue = self.queue.mark_later
        if builder:
            builder.finished = self.queue.mark
        self.intents = IntentHandlers(bus, store, self.queue.mark, keeper.soon if keeper else lambda: None)
        # Replicas the lab had killed: container id -> the chain of the request, which their
        # container.died and the healing after it continue.
        self.kills: dict[str, str | None] = {}
        self._router: str | None = None  # the router container a resync last saw

    def handlers(self) -> dict[str, Handler]:
        return {**self.intents.table(), s.APP_KILL_REQUESTED: self.on_kill}

    async def on_kill(self, event: Event, payload: BaseModel) -> None:
        """Kill the asked replica as a crash would (the Engine's die event does the rest)."""
        assert isinstance(payload, AppKillRequested)
        victim = next(
            (
                r
                for r in await self.engine.observe(payload.app_id)
                if r.service == payload.service and r.index == payload.replica and r.state == "running"
            ),
            None,
        )
        if victim is None:
            raise InvalidEvent(
                f"data.replica: {payload.app_id} has no running replica {payload.replica} of {payload.service!r}"
            )
        self.kills[victim.container_id] = current_chain()
        log.info("%s: killing %s (lab)", payload.app_id, victim.name)
        await self.engine.kill(victim.container_id)

    async def resync(self, everything: bool = False) -> None:
        """Mark for reconciling every app whose replicas are not what its record says (drift:
        what the Engine's events did not tell), every app that left Docker objects behind, and
        the routed apps when the router was replaced; with ``everything``, every app. One list
        of the suite's containers and one of its networks, however many apps there are: an app
        in step costs no pass."""
        records = await self.store.list()
        state = await self.engine.suite_state()
        router_replaced, self._router = state.router != self._router, state.router
        for record in records:
            routed = router_replaced and record.spec.routed_service is not None
            if everything or routed or not in_step(record, state.replicas.get(record.id, [])):
                self.queue.mark(record.id)
        for app_id in (set(state.replicas) | state.with_networks) - {record.id for record in records}:
            self.queue.mark(app_id)  # an app deleted while the deployer was away

    async def after_engine_reconnect(self) -> None:
        """The Engine's event stream is (back) up: what happened while it was down (a daemon
        restart stops every container) is found by reconciling everything now."""
        log.info("following the Docker Engine's events; resyncing every app")
        try:
            await self.resync(everything=True)
        except Exception:  # noqa: BLE001 - the Engine may still be starting; the timer retries
            log.exception("resync after the Engine came back failed")

    async def resync_forever(self, stop: asyncio.Event) -> None:
        everything = True  # the first: the exporter's figures and the files come from passes
        while not stop.is_set():
            try:
                await self.resync(everything)
                everything = False
            except Exception:  # noqa: BLE001 - NATS or Docker may be restarting; try next round
                log.exception("resync failed")
            await wait_or_stop(stop, self.settings.resync_seconds)

    async def on_container_event(self, action: str, container_id: str, labels: dict[str, str]) -> None:
        app_id = labels[LABEL_APP]
        if action == "die":
            replica = Replica(
                container_id=container_id,
                name=labels.get("name", container_id[:12]),
                service=labels[LABEL_SERVICE],
                index=int(labels.get(LABEL_REPLICA, "-1")),
                spec_hash=labels.get(LABEL_SPEC_HASH, ""),
                state="exited",
                exit_code=_exit_code(labels),
            )
            # A replica the lab killed continues the lab's chain; any other death begins one.
            await self.reconciler.replica_died(app_id, replica, chain=self.kills.pop(container_id, None))
        if action == "destroy":
            self.kills.pop(container_id, None)
            self.reconciler.replica_removed(container_id)
        self.queue.mark(app_id)

    async def answer_logs(self, request: LogsRequest) -> ContainersAnswer:
        return ContainersAnswer(containers=await self.engine.logs(request.app_id, request.tail, request.service))

    async def answer_stats(self, request: StatsRequest) -> ContainersAnswer:
        return ContainersAnswer(containers=await self.engine.stats(request.app_id))


async def scan_gate(settings: DeployerSettings, bus: Bus, engine: Engine) -> ScanGate:
    binary = find_trivy(settings.trivy_path)
    sandbox = None
    if binary or settings.scanner_image:
        work_dir = settings.trivy_cache_dir / "images"
        sandbox = ScanSandbox(
            engine.api,
            engine.naming.suite,
            work_dir,
            binary=binary,
            image=settings.scanner_image or None,
            memory=settings.scan_memory,
        )
        await sandbox.remove_leftovers()
    trivy = Trivy(
        binary,
        settings.trivy_cache_dir,
        sandbox,
        timeout=settings.scan_timeout_seconds,
        update_db=settings.trivy_update_db,
    )
    await trivy.learn_version()

    async def ask_policy(policy_input: dict[str, Any]) -> dict[str, Any]:
        return await bus.request(s.RPC_POLICY_SCAN, {"input": policy_input}, timeout=10)

    return ScanGate(bus, await bus.kv(s.SCANS_BUCKET), trivy, engine.image_digest, ask_policy)


def _exit_code(attributes: dict[str, str]) -> int | None:
    code = attributes.get("exitCode", "")
    return int(code) if code.lstrip("-").isdigit() else None


async def serve(settings: DeployerSettings) -> None:
    stop = stop_on_signals()
    naming = Naming(settings.suite, settings.app_domain)
    bus = await connect_service_bus(settings, "deployer")
    store = AppStore(await bus.kv(s.APPS_BUCKET))
    migrated = await store.migrate()
    if migrated:
        log.info("migrated %d app records to the current model: %s", len(migrated), ", ".join(migrated))
    await store.watch()  # every resync reads every app: from memory, not app by app
    config = await bus.kv(s.CONFIG_BUCKET)
    users = UserStore(await bus.kv(s.USERS_BUCKET), config)
    auth = Authenticator(Tokens(await verifying_key(await bus.kv(s.KEYS_BUCKET)), timedelta(0)), users, config)
    engine = Engine.from_env(
        naming, Addressing(settings.address_pool, settings.subnet_prefix, settings.router_container)
    )
    storage = Storage(await bus.kv(s.STORAGE_BUCKET))
    quota_of = functools.partial(_storage_quota, settings, users)  # an owner's storage quota, in bytes
    keeper = StorageKeeper(storage, store, bus.objects, settings.storage_release_grace_seconds)
    await keeper.adopt()
    gate = await scan_gate(settings, bus, engine) if settings.scan_images else None
    limits = ContextLimits(settings.max_context_bytes, settings.max_context_files)
    builder = Builder(
        bus,
        engine,
        lambda: bus.objects(s.CONTEXTS_OBJECTS),
        await bus.kv(s.BUILDS_BUCKET),
        limits,
        box=settings.build_box,
        per_owner=settings.builds_per_owner,
        storage=storage,
        storage_quota=quota_of,
    )
    deployer = Deployer(settings, bus, store, engine, gate, builder, keeper)
    clients = ClientIntents(bus, store, auth, deployer.intents.admit, limits, storage, quota_of)
    await bus.serve(s.RPC_APP_LOGS, deployer.answer_logs)
    await bus.serve(s.RPC_APP_STATS, deployer.answer_stats)
    followers = LogFollowers(engine, bus.nc.publish)
    await bus.serve(s.RPC_APP_LOGS_FOLLOW, followers.start)
    await bus.serve(s.RPC_APP_LOGS_LEASE, followers.lease)

    metrics_server = uvicorn.Server(
        uvicorn.Config(metrics_app(), host="0.0.0.0", port=settings.metrics_port, log_level="warning")
    )
    tasks = [
        asyncio.create_task(_serve_metrics(metrics_server, settings.metrics_port)),
        asyncio.create_task(StatsCollector(engine).run(stop, settings.stats_seconds)),
        asyncio.create_task(deployer.queue.run(stop)),
        asyncio.create_task(deployer.resync_forever(stop)),
        asyncio.create_task(
            follow_container_events(naming, deployer.on_container_event, stop, deployer.after_engine_reconnect)
        ),
        asyncio.create_task(bus.consume("deployer", "app.>", deployer.handlers(), stop)),
        asyncio.create_task(bus.consume("deployer-client", f"{s.CLIENT_PREFIX}.>", clients.table(), stop)),
    ]
    keeping = asyncio.create_task(keeper.run(stop))
    sharing = asyncio.create_task(UploadShares(bus.objects, settings.upload_share_mb * 1024 * 1024).run(stop))
    # The vulnerability database may take minutes (or never come, offline): fetched beside the rest.
    fetching_db = asyncio.create_task(_keep_db_fresh(gate, stop, settings.trivy_db_refresh_hours)) if gate else None
    log.info("deployer ready (suite %s)", settings.suite)
    await stop.wait()
    metrics_server.should_exit = True
    await followers.close()
    await builder.stop()
    keeping.cancel()  # (it waits up to an hour between sweeps)
    if fetching_db:
        fetching_db.cancel()
    await asyncio.gather(*tasks, keeping, sharing, *([fetching_db] if fetching_db else []), return_exceptions=True)
    await bus.close()


async def _storage_quota(settings: DeployerSettings, users: UserStore, owner: str) -> int:
    return settings.storage_quota_bytes(await users.get(owner))


async def _keep_db_fresh(gate: ScanGate, stop: asyncio.Event, every_hours: float) -> None:
    await gate.trivy.ensure_db()
    await gate.trivy.refresh_db_forever(stop, every_hours)


async def _serve_metrics(server: uvicorn.Server, port: int) -> None:
    """The metrics endpoint; a port already taken is logged, and the deployer works on without
    it (uvicorn would exit the whole process)."""
    try:
        await server.serve()
    except SystemExit:
        log.warning("metrics port %d unavailable: the deployer runs without its metrics endpoint", port)


def run() -> None:
    settings = DeployerSettings()
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
