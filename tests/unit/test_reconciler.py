"""The reconciler on its own: an in-memory platform behind the runtime seam, an in-memory apps
bucket and bus (memory_runtime.py). Deaths, the crash-loop back-off, per-service scale, replicas
left half made, removals that are not deaths: each pass is run by hand, no Docker, no NATS."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from crane_deployer.naming import Naming
from crane_deployer.reconciler import Reconciler
from crane_shared import subjects as s
from crane_shared.appspec import AppRecord, AppSpec, AppStatus
from crane_shared.container_defaults import Limits
from crane_shared.events import AppUpdated
from crane_shared.intents import apply_update
from crane_shared.settings import CommonSettings
from crane_shared.store import AppStore
from tests.unit.memory_runtime import MemoryBus, MemoryKV, MemoryRuntime

APP = "shop-1"


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    runtime: MemoryRuntime
    store: AppStore
    bus: MemoryBus
    reconciler: Reconciler
    clock: Clock
    requeued: list[tuple[str, float]] = field(default_factory=list)

    def run(self, coroutine):
        return _loop.run_until_complete(coroutine)

    def reconcile(self) -> AppRecord:
        self.run(self.reconciler.reconcile(APP))
        record = self.run(self.store.get(APP))
        assert record is not None
        return record

    def change(self, update: AppUpdated) -> None:
        self.run(self.store.mutate(APP, lambda r: apply_update(r, update)))


_loop = asyncio.new_event_loop()


def world(services: list[dict]) -> World:
    runtime, store, bus, clock = MemoryRuntime(Naming("t")), AppStore(MemoryKV()), MemoryBus(), Clock()
    reconciler = Reconciler(bus, store, runtime, CommonSettings(), Limits(), clock=clock)  # type: ignore[arg-type]
    w = World(runtime, store, bus, reconciler, clock)
    reconciler.requeue = lambda app_id, delay: w.requeued.append((app_id, delay))
    spec = AppSpec.model_validate({"name": "shop", "services": services})
    assert w.run(store.insert(AppRecord(id=APP, owner="u-1", spec=spec)))
    return w


WEB = {"name": "web", "image": "crane/hello:local", "ports": ["8080"], "replicas": 3}
WORKER = {"name": "worker", "image": "crane/hello:local", "replicas": 1}


def test_a_new_app_gets_its_replicas_once_and_says_deployed_once():
    w = world([WEB])
    record = w.reconcile()
    assert [r.name for r in w.runtime.of(APP)] == ["t-shop-1-web-0", "t-shop-1-web-1", "t-shop-1-web-2"]
    assert record.status == AppStatus.RUNNING and record.running_replicas == 3
    assert "t-net-shop-1" in w.runtime.networks and "t-net-shop-1" in w.runtime.routed
    assert len(w.bus.of_type(s.APP_DEPLOYED)) == 1
    assert w.run(w.store.compose(APP)) is not None  # the export is kept beside the record
    calls = list(w.runtime.calls)
    w.reconcile()  # nothing to do: nothing done, nothing said
    assert w.runtime.calls == calls and len(w.bus.of_type(s.APP_DEPLOYED)) == 1


def test_a_dead_replica_is_replaced_in_the_chain_its_death_began():
    w = world([WEB])
    w.reconcile()
    w.clock.now += 60  # it ran a minute: not a crash loop
    victim = w.runtime.exit(w.runtime.of(APP)[1].container_id, 137)
    w.run(w.reconciler.replica_died(APP, victim))
    (died,) = w.bus.of_type(s.CONTAINER_DIED)
    assert died.data == {"app_id": APP, "service": "web", "container": "t-shop-1-web-1", "exit_code": 137}
    record = w.reconcile()
    assert [r.state for r in w.runtime.of(APP)] == ["running"] * 3 and victim.container_id not in w.runtime.replicas
    assert w.runtime.calls[-2:] == ["remove t-shop-1-web-1", "create t-shop-1-web-1"]  # the same slot
    (created,) = [e for e in w.bus.of_type(s.CONTAINER_CREATED) if e.data["replica"] == 1 and e.correlationid]
    assert created.correlationid == died.id and record.correlationid == died.id
    assert record.status == AppStatus.RUNNING


def test_a_replica_that_keeps_exiting_waits_longer_each_time_then_fails_the_app():
    w = world([{**WEB, "replicas": 1}])
    w.reconcile()
    delays = []
    for _ in range(3):
        (replica,) = w.runtime.of(APP)
        w.clock.now += 0.5  # exits half a second after it started
        w.run(w.reconciler.replica_died(APP, w.runtime.exit(replica.container_id, 3)))
        w.requeued.clear()
        record = w.reconcile()
        if record.status == AppStatus.FAILED:
            break
        assert w.runtime.of(APP) == [], "no replica made while it backs off"
        (requeue,) = w.requeued
        delays.append(requeue[1])
        w.clock.now += requeue[1]
        w.reconcile()  # the back-off is over: made again
        assert [r.state for r in w.runtime.of(APP)] == ["running"]
    assert delays == [1.0, 2.0]
    assert record.status == AppStatus.FAILED and "keeps exiting" in (record.reason or ""), record.reason
    assert "exit code 3" in (record.reason or "")
    assert len(w.bus.of_type(s.APP_FAILED)) == 1


def test_one_service_is_scaled_and_the_others_are_not_touched():
    w = world([WEB, WORKER])
    w.reconcile()
    web_before = w.runtime.of(APP, "web")
    w.change(AppUpdated(app_id=APP, service="worker", replicas=3))
    calls = len(w.runtime.calls)
    record = w.reconcile()
    assert [r.index for r in w.runtime.of(APP, "worker")] == [0, 1, 2]
    assert w.runtime.of(APP, "web") == web_before
    assert w.runtime.calls[calls:] == ["create t-shop-1-worker-1", "create t-shop-1-worker-2"]
    assert record.service_replicas == {"web": 3, "worker": 3}
    (scaled,) = w.bus.of_type(s.APP_SCALED)
    assert scaled.data["previous_replicas"] == 4 and scaled.data["replicas"] == 6


def test_a_replica_left_half_made_is_started_not_made_again():
    w = world([{**WEB, "replicas": 2}])
    w.reconcile()
    (kept, _) = w.runtime.of(APP)
    w.run(w.runtime.remove(w.runtime.of(APP)[1].container_id))
    half = w.runtime.leave_created(APP, "web", 1, kept.spec_hash)  # a deployer stopped mid-create
    w.runtime.calls.clear()
    record = w.reconcile()
    assert w.runtime.calls == ["start t-shop-1-web-1"]
    assert [r.container_id for r in w.runtime.of(APP)] == [kept.container_id, half]
    assert record.running_replicas == 2


def test_replicas_crane_removes_are_no_deaths():
    w = world([WEB])
    w.reconcile()
    w.change(AppUpdated(app_id=APP, replicas=1))
    removed = w.runtime.of(APP)[1:]
    w.reconcile()
    for replica in removed:  # the platform reports their end as a death too
        w.run(w.reconciler.replica_died(APP, replica))
        w.reconciler.replica_removed(replica.container_id)
    assert w.bus.of_type(s.CONTAINER_DIED) == []
    assert [r.name for r in w.runtime.of(APP)] == ["t-shop-1-web-0"]
    w.clock.now += 0.1  # and no back-off came of it: scaling out again is at once
    w.change(AppUpdated(app_id=APP, replicas=3))
    assert w.reconcile().running_replicas == 3 and w.requeued == []


def test_a_stopped_app_keeps_nothing_running_and_a_deleted_one_leaves_nothing():
    w = world([WEB, WORKER])
    w.reconcile()
    w.change(AppUpdated(app_id=APP, desired_state="stopped"))
    record = w.reconcile()
    assert w.runtime.of(APP) == [] and record.status == AppStatus.STOPPED
    assert len(w.bus.of_type(s.APP_STOPPED)) == 1
    w.run(w.store.mutate(APP, lambda r: r.model_copy(update={"status": AppStatus.DELETING})))
    w.run(w.reconciler.reconcile(APP))
    assert w.run(w.store.get(APP)) is None and w.run(w.store.compose(APP)) is None
    assert w.runtime.networks == {} and len(w.bus.of_type(s.APP_REMOVED)) == 1


def test_a_resync_passes_over_an_app_in_step_and_not_one_that_drifted():
    from crane_deployer.reconciler import in_step

    w = world([WEB, WORKER])
    assert not in_step(w.run(w.store.get(APP)), [])  # pending: it needs its first pass
    record = w.reconcile()
    assert in_step(record, w.runtime.of(APP))  # running as recorded: nothing to do
    dead = w.runtime.exit(w.runtime.of(APP, "web")[0].container_id, 137)  # a death the events missed
    assert not in_step(record, w.runtime.of(APP)) and dead.state == "exited"
    w.reconcile()
    record = w.reconcile()
    assert in_step(record, w.runtime.of(APP))
    w.run(w.runtime.remove(w.runtime.of(APP, "worker")[0].container_id))  # removed behind CRANE's back
    assert not in_step(record, w.runtime.of(APP))
    w.reconcile()
    w.change(AppUpdated(app_id=APP, desired_state="stopped"))
    stopped = w.reconcile()
    assert stopped.status == AppStatus.STOPPED and in_step(stopped, w.runtime.of(APP))
