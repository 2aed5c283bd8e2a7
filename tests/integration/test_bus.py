"""The bus helper and the app store against a real NATS server with JetStream."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crane_shared import subjects as s
from crane_shared.bus import Bus
from crane_shared.events import AppDeleted, AppRemoved, Event, new_event
from crane_shared.store import AppStore, kv_items
from tests.harness.procs import Proc, binary, free_port, port_open, wait_for


@pytest.fixture
async def nats_url() -> AsyncIterator[str]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="crane-nats-")
    argv = [binary("nats-server"), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", workdir]
    proc = Proc("nats", argv, Path(workdir)).start()
    wait_for(lambda: port_open(port), 10, "nats-server")
    yield f"nats://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture
async def bus(nats_url) -> AsyncIterator[Bus]:
    connection = await Bus.connect(nats_url, "test")
    yield connection
    await connection.close()


async def run_consumer(bus: Bus, durable: str, handlers, until, timeout: float = 10) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(durable, "app.>", handlers, stop))
    try:
        async with asyncio.timeout(timeout):
            while not until():
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


async def test_invalid_message_is_dead_lettered_with_reason_and_consumer_goes_on(bus):
    seen: list[str] = []

    async def on_deleted(event, payload):
        seen.append(payload.app_id)

    await bus.js.publish(s.APP_DELETED, b'{"data": {"app_id": 42}}')
    await bus.js.publish(s.APP_DELETED, b"\xff garbage")
    await bus.emit(s.APP_DELETED, AppDeleted(app_id="fine-1"))
    await run_consumer(bus, "t1", {s.APP_DELETED: on_deleted}, lambda: seen)
    assert seen == ["fine-1"]

    dead = await bus.js.pull_subscribe("deadletter.>", durable="dlq-reader", stream=s.DEADLETTER_STREAM)
    letters = await dead.fetch(2, timeout=5)
    assert [m.subject for m in letters] == ["deadletter.app.deleted"] * 2
    assert "data.app_id" in letters[0].headers["Crane-Reason"]
    assert "not JSON" in letters[1].headers["Crane-Reason"]
    assert letters[1].data == b"\xff garbage"  # the original is kept as it was

    rejected = await bus.js.pull_subscribe(s.EVENT_REJECTED, durable="rej-reader")
    events = [json.loads(m.data) for m in await rejected.fetch(2, timeout=5)]
    assert {e["data"]["consumer"] for e in events} == {"t1"}
    assert all(e["data"]["deadletter_subject"] == "deadletter.app.deleted" for e in events)


async def test_durable_consumer_catches_up_after_being_away(bus):
    seen: list[str] = []

    async def on_deleted(event, payload):
        seen.append(payload.app_id)

    await run_consumer(bus, "t2", {s.APP_DELETED: on_deleted}, lambda: True)  # create it, then leave
    for i in range(5):
        await bus.emit(s.APP_DELETED, AppDeleted(app_id=f"missed-{i}"))
    await run_consumer(bus, "t2", {s.APP_DELETED: on_deleted}, lambda: len(seen) >= 5)
    assert seen == [f"missed-{i}" for i in range(5)]


async def test_duplicate_event_ids_are_stored_once(bus):
    event = new_event(s.APP_DELETED, AppDeleted(app_id="dup-1"), source="test")
    for _ in range(3):
        await bus.publish(event)
    info = await bus.js.stream_info(s.EVENTS_STREAM)
    assert info.state.messages == 1


async def test_failing_handler_is_retried(bus):
    attempts: list[int] = []

    async def flaky(event, payload):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    await bus.emit(s.APP_DELETED, AppDeleted(app_id="retry-1"))
    await run_consumer(bus, "t3", {s.APP_DELETED: flaky}, lambda: len(attempts) >= 2)
    assert len(attempts) == 2


async def test_app_numbers_are_unique_under_concurrency(bus):
    store = AppStore(await bus.kv(s.APPS_BUCKET))
    numbers = await asyncio.gather(*(store.next_number() for _ in range(40)))
    assert sorted(numbers) == list(range(1, 41))


async def test_a_creating_event_maps_to_one_app_only(bus):
    store = AppStore(await bus.kv(s.APPS_BUCKET))
    results = await asyncio.gather(*(store.app_id_for_event("evt-1", "shop") for _ in range(10)))
    assert len({app_id for app_id, _ in results}) == 1
    assert sum(allocated for _, allocated in results) == 1


async def test_what_a_handler_publishes_continues_the_chain_of_the_event_it_handles(bus):
    """A request begins a chain; a handler's emit joins it, two hops on; a new request does not."""
    from crane_shared.events import AppRestartRequested

    published: list[Event] = []

    async def on_deleted(event, payload):  # first hop: publishes a follow-up
        published.append(await bus.emit(s.APP_RESTART_REQUESTED, AppRestartRequested(app_id=payload.app_id)))

    async def on_restart(event, payload):  # second hop
        published.append(await bus.emit(s.APP_REMOVED, AppRemoved(app_id=payload.app_id)))

    root = await bus.emit(s.APP_DELETED, AppDeleted(app_id="chain-1"))
    other = await bus.emit(s.APP_DELETED, AppDeleted(app_id="chain-2"))
    handlers = {s.APP_DELETED: on_deleted, s.APP_RESTART_REQUESTED: on_restart}
    await run_consumer(bus, "chains", handlers, lambda: len(published) >= 4)
    assert root.correlationid is None and other.correlationid is None  # each began its own
    by_app = {(e.type, e.data["app_id"]): e.correlationid for e in published}
    assert by_app[(s.APP_RESTART_REQUESTED, "chain-1")] == by_app[(s.APP_REMOVED, "chain-1")] == root.id
    assert by_app[(s.APP_RESTART_REQUESTED, "chain-2")] == by_app[(s.APP_REMOVED, "chain-2")] == other.id
    outside = await bus.emit(s.APP_DELETED, AppDeleted(app_id="chain-3"))  # after the handlers: no chain
    assert outside.correlationid is None


async def test_accounts_from_before_user_ids_get_one_id_and_keep_their_apps(bus: Bus):
    from crane_shared.appspec import AppRecord, AppSpec
    from crane_shared.users import LEGACY_PREFIX, User, UserStore, legacy_key

    users = UserStore(await bus.kv(s.USERS_BUCKET), await bus.kv(s.CONFIG_BUCKET))
    apps = AppStore(await bus.kv(s.APPS_BUCKET))
    legacy = User(email="ada@example.com", full_name="Ada", password_hash="h").model_dump(mode="json")
    del legacy["id"]  # as accounts were stored before ids
    await users.users.put(legacy_key("ada@example.com"), json.dumps(legacy).encode())
    spec = AppSpec.model_validate({"name": "shop", "services": [{"name": "web", "image": "nginx"}]})
    await apps.insert(AppRecord(id="shop-1", owner="ada@example.com", spec=spec))
    await apps.insert(AppRecord(id="gone-2", owner="eve@example.com", spec=spec))  # no such account

    # Two API replicas starting at once agree on one id.
    counts = await asyncio.gather(*(users.migrate_legacy(apps.rename_owner) for _ in range(2)))
    assert sum(counts) >= 1
    ada = await users.by_email("ADA@example.com")
    assert ada is not None and ada.full_name == "Ada" and ada.id.startswith("u-")
    assert [u.id for u in await users.all()] == [ada.id]
    assert await kv_items(users.users, LEGACY_PREFIX) == {}
    shop = await apps.get("shop-1")
    assert shop is not None and (shop.owner, shop.owner_email) == (ada.id, "ada@example.com")
    gone = await apps.get("gone-2")
    assert gone is not None and gone.owner == "eve@example.com"  # nobody's: no id is an email
    assert await users.get("eve@example.com") is None


async def test_an_email_registered_twice_at_once_makes_one_user_and_a_new_id_after_a_delete(bus: Bus):
    from crane_shared.users import User, UserStore

    users = UserStore(await bus.kv(s.USERS_BUCKET), await bus.kv(s.CONFIG_BUCKET))
    attempts = [User(email="bo@example.com", full_name=f"Bo {i}", password_hash="h") for i in range(8)]
    created = await asyncio.gather(*(users.create(u) for u in attempts))
    assert created.count(True) == 1
    first = await users.by_email("bo@example.com")
    assert first is not None and first.id == attempts[created.index(True)].id
    await users.delete(first)
    assert await users.by_email("bo@example.com") is None and await users.get(first.id) is None
    again = User(email="bo@example.com", full_name="Another Bo", password_hash="h2")
    assert await users.create(again)
    taker = await users.by_email("bo@example.com")
    assert taker is not None and taker.id == again.id != first.id
    assert await users.get(first.id) is None  # a token naming the old id finds nobody


async def test_every_stream_and_object_store_is_bounded_and_old_stores_get_their_bound(nats_url):
    """No stream or store grows without end: the events and dead letters lose their oldest, a
    full client stream refuses new intents, and an object store made before it had a limit (as
    older CRANEs made them) gets the table's at the next start of its creator."""
    import nats
    from nats.js.api import DiscardPolicy, ObjectStoreConfig, StorageType

    from crane_shared.buckets import OBJECT_STORES

    raw = await nats.connect(nats_url)
    await raw.jetstream().create_object_store(
        s.CONTEXTS_OBJECTS, ObjectStoreConfig(bucket=s.CONTEXTS_OBJECTS, storage=StorageType.FILE)
    )
    api = await Bus.connect(nats_url, "api")  # the creator of the streams and of these stores
    try:
        js = raw.jetstream()
        for name in (s.EVENTS_STREAM, s.DEADLETTER_STREAM, s.CLIENT_STREAM):
            config = (await js.stream_info(name)).config
            assert config.max_bytes and config.max_bytes > 0, name
            assert config.discard == (DiscardPolicy.NEW if name == s.CLIENT_STREAM else DiscardPolicy.OLD)
        for bucket, access in OBJECT_STORES.items():
            store = api if access.creator == "api" else await Bus.connect(nats_url, access.creator)
            await store.objects(bucket)
            assert (await js.stream_info(f"OBJ_{bucket}")).config.max_bytes == access.max_bytes, bucket
            assert access.max_bytes, f"{bucket} has no size limit"
            if store is not api:
                await store.close()
    finally:
        await api.close()
        await raw.close()


async def test_stored_objects_are_owned_counted_within_quota_and_released_when_unused(bus: Bus):
    """The storage bucket (storage.py) against real NATS: an owner recorded once per object,
    usage counted, a quota refused, parallel records of one object by many owners all kept, and
    what no app names released (after the grace), deleting an object no owner holds."""
    import time

    from crane_shared.appspec import AppRecord, AppSpec
    from crane_shared.storage import OverQuota, Storage

    storage = Storage(await bus.kv(s.STORAGE_BUCKET))
    digest = "ab" * 32
    await storage.record("context", digest, "u-a", 1000, quota_bytes=5000)
    await storage.record("context", digest, "u-a", 1000, quota_bytes=5000)  # again: counted once
    assert (await storage.usage("u-a")).stored_bytes == 1000
    assert await storage.owns("context", digest, "u-a") and not await storage.owns("context", digest, "u-b")
    with pytest.raises(OverQuota):
        await storage.record("context", "cd" * 32, "u-a", 4500, quota_bytes=5000)
    assert (await storage.usage("u-a")).stored_bytes == 1000  # nothing of the refusal was kept

    owners = [f"u-{i}" for i in range(12)]
    await asyncio.gather(*(storage.record("file", "f-1", owner, 10, None) for owner in owners))
    assert set((await storage.owners_of_all())["file.f-1"].owners) == set(owners)

    spec = AppSpec.model_validate({"name": "a", "services": [{"name": "w", "build": {"context": digest}}]})
    keeps = AppRecord(id="a-1", owner="u-a", spec=spec)
    deleted: list[tuple[str, str]] = []

    async def delete(kind, name):
        deleted.append((kind, name))

    waiting = await storage.release_unused([keeps], delete, grace=3600)
    assert waiting.released == [] and waiting.next_due is not None and waiting.next_due > time.time() + 3500
    released = (await storage.release_unused([keeps], delete, grace=0)).released
    assert sorted(released) == sorted(("u-" + str(i), "file", "f-1") for i in range(12))
    assert deleted == [("file", "f-1")] and await storage.owns("context", digest, "u-a")
    assert (await storage.usage("u-3")).stored_bytes == 0
    released = (await storage.release_unused([], delete, grace=0)).released  # the app went
    assert released == [("u-a", "context", digest)] and ("context", digest) in deleted


async def test_an_unclaimed_upload_expires_and_a_full_uploads_store_refuses_more(nats_url, monkeypatch):
    """The uploads store as its creator makes it from the bucket table (here with an expiry of
    a second and 64 kB, not an hour and 4 GiB): an upload nobody claims is gone after its
    expiry, and a client cannot put more than the store holds."""
    import dataclasses

    import nats
    from nats.js.errors import NotFoundError

    from crane_shared import buckets
    from crane_shared.uploads import put_upload

    short = dataclasses.replace(buckets.OBJECT_STORES[s.UPLOADS_OBJECTS], ttl=1.0, max_bytes=64 * 1024)
    monkeypatch.setitem(buckets.OBJECT_STORES, s.UPLOADS_OBJECTS, short)
    api = await Bus.connect(nats_url, "api")  # (the streams' owner: the deployer waits for them)
    deployer = await Bus.connect(nats_url, "deployer")
    client = await nats.connect(nats_url)
    try:
        store = await deployer.objects(s.UPLOADS_OBJECTS)
        name = await put_upload(client.jetstream(), s.UPLOADS_OBJECTS, "u-a", b"x" * 1000)
        assert (await store.get_info(name)).size == 1000
        await asyncio.sleep(2.5)
        with pytest.raises(NotFoundError):
            await store.get_info(name)
        with pytest.raises(Exception, match="(?i)maximum bytes|insufficient|exceed"):
            await put_upload(client.jetstream(), s.UPLOADS_OBJECTS, "u-a", b"x" * 100_000)
    finally:
        await client.close()
        await deployer.close()
        await api.close()


async def test_a_request_reaches_its_answerer_as_its_model_and_a_wrong_answer_is_never_sent(bus):
    from crane_shared.rpc import ContainersAnswer, LogsRequest, StatsRequest, Verdict

    asked: list[LogsRequest] = []

    async def logs(request: LogsRequest) -> ContainersAnswer:
        asked.append(request)
        return ContainersAnswer(containers=[{"name": "r0", "lines": ["hi"]}])

    async def stats(request: StatsRequest) -> Verdict:  # a handler with a bug: the wrong answer
        return Verdict(allowed=True)

    await bus.serve(s.RPC_APP_LOGS, logs)
    await bus.serve(s.RPC_APP_STATS, stats)
    answer = await bus.request(s.RPC_APP_LOGS, {"app_id": "shop-1", "tail": 5})
    assert answer == {"containers": [{"name": "r0", "lines": ["hi"]}]}
    assert asked == [LogsRequest(app_id="shop-1", tail=5)]  # typed, defaults filled
    refused = await bus.request(s.RPC_APP_LOGS, {"app_id": "shop-1", "tail": 0})
    assert refused["error"].startswith("tail:"), refused  # the field, and the answerer never ran
    assert (await bus.request(s.RPC_APP_LOGS, {"app_id": "shop-1", "extra": 1}))["error"].startswith("extra:")
    wrong = await bus.request(s.RPC_APP_STATS, {"app_id": "shop-1"})
    assert wrong == {"error": "test failed to answer rpc.app.stats (an internal error)"}, wrong
    assert len(asked) == 1


async def test_a_watching_store_lists_every_write_made_before_the_list_and_asks_for_no_record(bus: Bus, nats_url):
    """The apps view (apps_view.py): another process's insert, change and removal are in the
    very next list (an admission after the owner's previous create must count it), a record
    that is no longer valid is left out, and listing costs no request per app."""
    from crane_shared.appspec import AppRecord, AppSpec

    kv = await bus.kv(s.APPS_BUCKET)
    other = await Bus.connect(nats_url, "writer")  # another process's connection
    writer, watching = AppStore(await other.kv(s.APPS_BUCKET)), AppStore(kv)
    spec = AppSpec.model_validate({"name": "shop", "services": [{"name": "web", "image": "nginx"}]})
    await writer.insert(AppRecord(id="old-1", owner="u-a", spec=spec))
    await watching.watch()
    try:
        for batch in range(2, 40, 19):  # each burst of inserts must be in the list that follows it
            ids = [f"shop-{n}" for n in range(batch, batch + 19)]
            await asyncio.gather(*(writer.insert(AppRecord(id=i, owner="u-a", spec=spec)) for i in ids))
            assert set(ids) <= {r.id for r in await watching.list()}
        await writer.mutate("shop-2", lambda r: r.model_copy(update={"owner": "u-b"}))
        await writer.remove("shop-3")
        await kv.put("app.broken-99", b'{"id": "broken-99", "owner": 42}')  # written by hand, wrongly
        asked = 0
        original_get = watching.kv.get

        async def counting_get(*args, **kwargs):
            nonlocal asked
            asked += 1
            return await original_get(*args, **kwargs)

        watching.kv.get = counting_get  # type: ignore[method-assign]
        listed = {r.id: r for r in await watching.list()}
        assert asked == 0, f"the list asked the bucket for {asked} records"
        assert listed["shop-2"].owner == "u-b" and "shop-3" not in listed and "broken-99" not in listed
        assert len(listed) == 38 and "old-1" in listed  # the one there before the watch began, too
    finally:
        await watching.close()
        await other.close()
    # A store whose view has stopped still lists (from the bucket), as one that never watched.
    assert {r.id for r in await watching.list()} == {r.id for r in await AppStore(kv).list()}


async def test_a_list_waits_for_a_watch_that_lags(bus: Bus, nats_url, monkeypatch, caplog):
    """When the watch delivers late (a busy service), a list waits for the last write rather
    than answer from an older view (and without giving up on the view)."""
    from nats.js.kv import KeyValue

    from crane_shared.appspec import AppRecord, AppSpec

    delivered = KeyValue.KeyWatcher.__anext__

    async def late(watcher):  # every entry reaches the view 100 ms late
        entry = await delivered(watcher)
        await asyncio.sleep(0.1)
        return entry

    monkeypatch.setattr(KeyValue.KeyWatcher, "__anext__", late)
    other = await Bus.connect(nats_url, "writer")
    writer, watching = AppStore(await other.kv(s.APPS_BUCKET)), AppStore(await bus.kv(s.APPS_BUCKET))
    spec = AppSpec.model_validate({"name": "shop", "services": [{"name": "web", "image": "nginx"}]})
    await watching.watch()
    try:
        await writer.insert(AppRecord(id="late-1", owner="u-a", spec=spec))
        assert [r.id for r in await watching.list()] == ["late-1"]
        assert "did not catch up" not in caplog.text
    finally:
        await watching.close()
        await other.close()
