"""NATS authentication on a running suite: every service has its own user and may use only its
subjects; the client user may only send client.* intents; and the owner of a client intent is
the user of the API token in its header, checked by the deployer."""

from __future__ import annotations

import asyncio
import json
import time

import nats
import pytest

from crane_shared import subjects as s
from crane_shared.buckets import KV_BUCKETS, OBJECT_STORES, STREAMS_OWNER
from crane_shared.secrets import SIGNING_KEY, WEBHOOK_TOKEN
from tests.conftest import app_body, make_user
from tests.integration.helpers import running, wait_app, wait_gone


async def _violation(url: str, action, inbox: str = "_INBOX") -> str | None:
    """Run ``action(nc)``; the permission violation NATS reported for it, if any."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(url, error_cb=on_error, allow_reconnect=False, inbox_prefix=inbox)
    try:
        try:
            await action(nc)
        except Exception as exc:  # noqa: BLE001 - a refused request may also raise
            errors.append(repr(exc))
        await nc.flush(timeout=2)
        await asyncio.sleep(0.3)
    finally:
        await nc.close()
    return next((e for e in errors if "ermission" in e), errors[0] if errors else None)


def test_no_credentials_no_connection(suite):
    port = suite.nats_url.rsplit(":", 1)[1]
    errors: list[str] = []

    async def record(exc: Exception) -> None:
        errors.append(str(exc))

    async def connect(url: str) -> None:
        nc = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, error_cb=record)
        await nc.close()

    asyncio.run(connect(suite.nats_url))  # the server is up: with credentials, it answers
    with pytest.raises(nats.errors.Error):
        asyncio.run(connect(f"nats://127.0.0.1:{port}"))
    assert any("authorization violation" in e.lower() for e in errors), errors  # refused, not unreachable


def test_the_client_user_can_only_send_client_intents(suite):
    async def publish_app_created(nc) -> None:
        await nc.publish("app.created", b"{}")

    async def subscribe_events(nc) -> None:
        await nc.subscribe("app.>")

    async def read_users(nc) -> None:
        await (await nc.jetstream().key_value("crane_users")).keys()

    for action in (publish_app_created, subscribe_events, read_users):
        assert "ermission" in (asyncio.run(_violation(suite.client_nats_url, action)) or ""), action.__name__

    async def client_intent(nc) -> None:
        ack = await nc.jetstream().publish("client.app.deleted", b'{"data": {"app_id": "nothing-1"}}')
        assert ack.stream == "CRANE_CLIENT"

    assert asyncio.run(_violation(suite.client_nats_url, client_intent)) is None


def test_services_are_confined_to_their_subjects(suite):
    """monitor-config only reads: it may not publish intents or facts, nor read the users."""
    url = suite.nats_url_as("monitor-config")

    async def publish_intent(nc) -> None:
        await nc.publish("app.deleted", b"{}")

    async def read_users(nc) -> None:
        await nc.request("$JS.API.STREAM.MSG.GET.KV_crane_users", b'{"last_by_subj": "$KV.crane_users.x"}', timeout=1)

    async def snoop_inboxes(nc) -> None:
        await nc.subscribe("_INBOX_api.>")

    async def read_apps(nc) -> None:  # what it does need still works
        await nc.request("$JS.API.STREAM.MSG.GET.KV_crane_apps", b'{"last_by_subj": "$KV.crane_apps.x"}', timeout=2)

    for action in (publish_intent, read_users, snoop_inboxes):
        assert "ermission" in (asyncio.run(_violation(url, action, "_INBOX_monitor-config")) or ""), action.__name__
    assert asyncio.run(_violation(url, read_apps, "_INBOX_monitor-config")) is None


def _publish_as_client(suite, subject: str, data: dict, token: str | None) -> None:
    async def send() -> None:
        nc = await nats.connect(suite.client_nats_url)
        headers = {"Crane-Token": token} if token else None
        await nc.jetstream().publish(subject, json.dumps({"data": data}).encode(), headers=headers)
        await nc.close()

    asyncio.run(send())


def _rejections(suite, since: float, needle: str, timeout: float = 20) -> list[str]:
    async def read() -> list[str]:
        nc = await nats.connect(suite.nats_url)
        sub = await nc.jetstream().subscribe("event.rejected", ordered_consumer=True)
        found: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not found:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                continue
            event = json.loads(msg.data)
            if msg.metadata.timestamp.timestamp() >= since and needle in event["data"]["reason"]:
                found.append(event["data"]["reason"])
        await nc.close()
        return found

    return asyncio.run(read())


def test_owners_come_from_the_token_not_from_the_message(suite, user, http_image):
    token = user.headers["Authorization"].removeprefix("Bearer ")
    app = user.post("/apps", json=app_body(http_image, "owned")).json()
    wait_app(user, app["id"], running(1))
    intruder = make_user(suite, "intruder")
    intruder_token = intruder.headers["Authorization"].removeprefix("Bearer ")
    started = time.time() - 1

    _publish_as_client(suite, "client.app.deleted", {"app_id": app["id"]}, None)
    assert _rejections(suite, started, "header Crane-Token: send your API token")
    _publish_as_client(suite, "client.app.deleted", {"app_id": app["id"]}, "not-a-token")
    assert _rejections(suite, started, "header Crane-Token: Not enough segments")
    _publish_as_client(suite, "client.app.deleted", {"app_id": app["id"]}, intruder_token)
    assert _rejections(suite, started, f"data.app_id: you have no app '{app['id']}'")
    spec = app_body(http_image, "forged")
    _publish_as_client(suite, "client.app.created", {"owner": user.email, "spec": spec}, intruder_token)
    assert _rejections(suite, started, "data.owner: you are intruder-")
    assert user.get(f"/apps/{app['id']}").json()["status"] == "running"

    intruder.post("/auth/logout")  # a revoked token is refused too
    _publish_as_client(suite, "client.app.deleted", {"app_id": app["id"]}, intruder_token)
    assert _rejections(suite, started, "header Crane-Token: the token was revoked")

    _publish_as_client(suite, "client.app.updated", {"app_id": app["id"], "replicas": 2}, token)
    wait_app(user, app["id"], running(2))
    _publish_as_client(suite, "client.app.deleted", {"app_id": app["id"]}, token)
    wait_gone(user, app["id"])


def test_generated_secrets_never_reach_a_log(suite, user, http_image):
    """The signing key, the webhook token, every NATS password and a user's token appear in no
    log of the suite (services, NATS, Traefik, Prometheus, Alertmanager), after real traffic."""
    app = user.post("/apps?wait=true", json=app_body(http_image, "quiet")).json()
    user.delete(f"/apps/{app['id']}")
    wait_gone(user, app["id"])

    async def generated() -> dict[str, str]:
        nc = await nats.connect(suite.nats_url)
        keys = await nc.jetstream().key_value(s.KEYS_BUCKET)
        webhook = await nc.jetstream().key_value(s.WEBHOOK_BUCKET)
        values = {
            SIGNING_KEY: (await keys.get(SIGNING_KEY)).value.decode(),
            WEBHOOK_TOKEN: (await webhook.get(WEBHOOK_TOKEN)).value.decode(),
        }
        await nc.close()
        return values

    secrets = {**asyncio.run(generated()), **{f"nats:{u}": p for u, p in suite.nats_passwords.items()}}
    secrets["user token"] = user.headers["Authorization"].removeprefix("Bearer ")
    assert all(len(value) >= 20 for value in secrets.values())
    logs = {proc.log_path.name: proc.log_path.read_text(errors="replace") for proc in suite.procs.values()}
    leaks = [(name, log) for name, value in secrets.items() for log, text in logs.items() if value in text]
    assert not leaks, f"secrets found in logs: {leaks}"


def test_a_client_cannot_make_another_users_intent_a_duplicate(suite, user, http_image):
    """An intruder sends a valid intent of its own under the id the user's next message will
    have (a chosen one, or the stream sequence a client that sets none gets): the user's intent
    still takes effect."""
    mine = user.post("/apps", json=app_body(http_image, "dedup-victim")).json()
    intruder = make_user(suite, "dedup-intruder")
    theirs = intruder.post("/apps", json=app_body(http_image, "dedup-intruder")).json()
    wait_app(user, mine["id"], running(1))
    wait_app(intruder, theirs["id"], running(1))
    shared_id = "a-predictable-id-1"

    async def send(token: str, app_id: str) -> None:
        nc = await nats.connect(suite.client_nats_url)
        message = {"id": shared_id, "data": {"app_id": app_id, "replicas": 2}}
        await nc.jetstream().publish("client.app.updated", json.dumps(message).encode(), headers={"Crane-Token": token})
        await nc.close()

    asyncio.run(send(intruder.headers["Authorization"].removeprefix("Bearer "), theirs["id"]))
    wait_app(intruder, theirs["id"], running(2))
    asyncio.run(send(user.headers["Authorization"].removeprefix("Bearer "), mine["id"]))
    wait_app(user, mine["id"], running(2))  # not dropped as the intruder's duplicate
    for client, app in ((user, mine), (intruder, theirs)):
        client.delete(f"/apps/{app['id']}")
        wait_gone(client, app["id"])


def _denied(url: str, inbox: str, subjects: list[str]) -> set[str]:
    """The subjects NATS refused ``url``'s user to publish to (a JetStream API call, or a write
    to a bucket, is a publish)."""

    async def probe() -> list[str]:
        errors: list[str] = []

        async def record(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await nats.connect(url, error_cb=record, allow_reconnect=False, inbox_prefix=inbox)
        for subject in subjects:
            await nc.publish(subject, b"{}")
        await nc.flush(timeout=5)
        await asyncio.sleep(0.5)
        await nc.close()
        return errors

    errors = asyncio.run(probe())
    # nats-py lower-cases the server's message.
    return {subject for subject in subjects if any(f'"{subject.lower()}"' in e.lower() for e in errors)}


# What a compromised service could do most harm with: forge tokens, rewrite apps or accounts,
# reconfigure a stream. Written out by hand (not derived from buckets.py).
MUST_NOT = {
    "monitor-config": [
        "$JS.API.DIRECT.GET.KV_crane_keys.$KV.crane_keys.jwt-signing-key",
        "$JS.API.STREAM.MSG.GET.KV_crane_keys",
        "$KV.crane_apps.app.forged-1",
        "$KV.crane_users.user.forged",
        "$JS.API.STREAM.UPDATE.CRANE_EVENTS",
        "$JS.API.STREAM.UPDATE.KV_crane_apps",
        "$KV.crane_webhook.alert-webhook-token",
    ],
    "alert-bridge": [
        "$JS.API.STREAM.MSG.GET.KV_crane_keys",
        "$JS.API.STREAM.MSG.GET.KV_crane_apps",
        "$KV.crane_apps.app.forged-1",
        "$KV.crane_config.revoked.x",
        "$JS.API.STREAM.UPDATE.CRANE_CLIENT",
        "$JS.API.STREAM.CREATE.KV_crane_users",
    ],
    "policy": [
        "$JS.API.STREAM.MSG.GET.KV_crane_keys",
        "$KV.crane_apps.app.forged-1",
        "$KV.crane_users.user.forged",
        "$KV.crane_config.first-admin",
        "$JS.API.STREAM.UPDATE.CRANE_EVENTS",
    ],
    "deployer": [
        "$KV.crane_users.user.forged",
        "$KV.crane_keys.jwt-signing-key",
        "$KV.crane_policies.admission",
        "$JS.API.STREAM.UPDATE.KV_crane_apps",
        "$JS.API.STREAM.UPDATE.CRANE_EVENTS",
    ],
    "api": [
        "$KV.crane_scans.app.forged-1",
        "$KV.crane_builds.app.forged-1",
        "$KV.crane_alerts.alert.forged",
        "$KV.crane_webhook.alert-webhook-token",
        "$JS.API.STREAM.MSG.GET.KV_crane_webhook",
        "$JS.API.STREAM.UPDATE.KV_crane_scans",
    ],
}


# The durable consumers (stream, name, the service that pulls from it), by hand.
DURABLES = [
    ("CRANE_EVENTS", "deployer", "deployer"),
    ("CRANE_EVENTS", "monitor-config", "monitor-config"),
    ("CRANE_EVENTS", "policy", "policy"),
    ("CRANE_CLIENT", "deployer-client", "deployer"),
]


@pytest.mark.parametrize("service", sorted(MUST_NOT))
def test_a_service_cannot_touch_what_is_not_its_own(suite, service):
    """Every bucket and stream operation the service must not have is refused by NATS, both the
    hand-written worst ones and all that buckets.py leaves out; what it needs still works."""
    derived = []
    for bucket, access in KV_BUCKETS.items():
        if not access.reads(service):
            derived.append(f"$JS.API.STREAM.MSG.GET.KV_{bucket}")
        if not access.writes(service):
            derived.append(f"$KV.{bucket}.probe")
        if access.creator != service:
            derived.append(f"$JS.API.STREAM.UPDATE.KV_{bucket}")
        if not access.reads(service):  # no consumer: no watching the bucket either
            derived += [f"$JS.API.CONSUMER.CREATE.KV_{bucket}", f"$JS.API.CONSUMER.DELETE.KV_{bucket}.watcher"]
        derived += [f"$JS.API.STREAM.PURGE.KV_{bucket}", f"$JS.API.STREAM.DELETE.KV_{bucket}"]  # nobody
    for store, access in OBJECT_STORES.items():
        if not access.writes(service):
            derived += [f"$O.{store}.C.probe", f"$JS.API.STREAM.PURGE.OBJ_{store}"]
        derived.append(f"$JS.API.STREAM.DELETE.OBJ_{store}")
    streams = ("CRANE_EVENTS", "CRANE_CLIENT", "CRANE_DEADLETTER")
    if service != STREAMS_OWNER:
        derived += [f"$JS.API.STREAM.UPDATE.{stream}" for stream in streams]
    derived += [f"$JS.API.STREAM.{op}.{stream}" for op in ("PURGE", "DELETE") for stream in streams]
    # Another service's durable consumer: not to be deleted, redefined or pulled from.
    for stream, durable, owner in DURABLES:
        if owner != service:
            derived += [
                f"$JS.API.CONSUMER.DELETE.{stream}.{durable}",
                f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
                f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            ]
    forbidden = sorted(set(MUST_NOT[service] + derived))
    allowed = ["$JS.API.STREAM.INFO.CRANE_EVENTS", "$JS.API.STREAM.NAMES"]
    denied = _denied(suite.nats_url_as(service), f"_INBOX_{service}", forbidden + allowed)
    assert set(forbidden) - denied == set(), f"{service} may still: {sorted(set(forbidden) - denied)}"
    assert not denied & set(allowed), denied
