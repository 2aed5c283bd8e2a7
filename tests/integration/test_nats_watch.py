"""Watching with NATS directly: a user connects with their API token (NATS asks the API, the
auth callout) and subscribes to their own view of the events; another user's view, every view,
a bad or revoked token are refused."""

from __future__ import annotations

import asyncio
import json

import nats
import pytest
from nats.errors import Error as NatsError

from tests.conftest import app_body, make_user
from tests.integration.helpers import running, wait_app


def _token(client) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


async def _connect(suite, token: str, errors: list | None = None):
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(
        f"nats://127.0.0.1:{suite.nats_port}", token=token, allow_reconnect=False, error_cb=on_error, connect_timeout=5
    )


def test_a_user_watches_their_own_events_over_nats_and_nobody_elses(suite, admin, http_image):
    ada, bob = make_user(suite, "ada"), make_user(suite, "bob")  # (the admin registered first)
    assert ada.get("/users/me").json()["role"] == "user"
    subject = ada.get("/users/me").json()["events_subject"]
    assert subject.startswith("view.") and subject.endswith(".>")

    async def watch() -> tuple[list, list, list]:
        errors: list = []
        nc = await _connect(suite, _token(ada), errors)
        seen: list = []

        async def on_event(msg) -> None:
            seen.append((msg.subject, json.loads(msg.data)))

        await nc.subscribe(subject, cb=on_event)
        await nc.subscribe("view.>")  # every user's: refused
        await nc.subscribe(bob.get("/users/me").json()["events_subject"])  # bob's: refused
        await nc.flush()
        mine = ada.post("/apps", json=app_body(http_image, "watched")).json()
        theirs = bob.post("/apps", json=app_body(http_image, "hidden")).json()
        await asyncio.to_thread(wait_app, ada, mine["id"], running(1))
        await asyncio.to_thread(wait_app, bob, theirs["id"], running(1))
        for _ in range(50):
            if any(event["type"] == "app.deployed" for _, event in seen):
                break
            await asyncio.sleep(0.1)
        await nc.close()
        ada.delete(f"/apps/{mine['id']}")
        bob.delete(f"/apps/{theirs['id']}")
        return seen, errors, [mine["id"], theirs["id"]]

    seen, errors, (mine, theirs) = asyncio.run(watch())
    assert {event["subject"] for _, event in seen} == {mine}, seen
    assert {event["type"] for _, event in seen} >= {"app.created", "app.deployed"}
    assert all(s.startswith(subject[:-1]) for s, _ in seen)
    assert sum("permissions violation" in e for e in errors) == 2, errors


def test_a_bad_missing_or_revoked_token_cannot_connect(suite, admin):
    user = make_user(suite, "revoked")
    token = _token(user)

    async def attempt(value: str | None) -> None:
        kwargs = {"token": value} if value else {}
        nc = await nats.connect(
            f"nats://127.0.0.1:{suite.nats_port}", allow_reconnect=False, connect_timeout=5, **kwargs
        )
        await nc.close()

    asyncio.run(attempt(token))  # valid: admitted
    for bad in ("not-a-token", token[:-4] + "AAAA", None):
        with pytest.raises(NatsError, match="uthorization"):
            asyncio.run(attempt(bad))
    assert user.post("/auth/logout").status_code == 204
    with pytest.raises(NatsError, match="uthorization"):
        asyncio.run(attempt(token))


def test_an_app_published_straight_to_nats_is_in_its_owners_view_from_its_creation(suite, admin, http_image):
    """client.app.created has no id yet (CRANE gives it one when it handles it): its app.created
    still reaches the owner's view, and so does every step after, although the first of them
    (policy.admission) comes before the app's record exists."""
    ada = make_user(suite, "ada-nats")
    subject = ada.get("/users/me").json()["events_subject"]

    async def watch() -> list[dict]:
        nc = await _connect(suite, _token(ada))
        seen: list[dict] = []

        async def on_event(msg) -> None:
            seen.append(json.loads(msg.data))

        await nc.subscribe(subject, cb=on_event)
        await nc.flush()
        client = await nats.connect(suite.client_nats_url)
        message = {"data": {"spec": app_body(http_image, "published")}}
        await client.jetstream().publish(
            "client.app.created", json.dumps(message).encode(), headers={"Crane-Token": _token(ada)}
        )
        await client.close()
        for _ in range(300):
            if any(event["type"] == "app.deployed" for event in seen):
                break
            await asyncio.sleep(0.1)
        await nc.close()
        return seen

    seen = asyncio.run(watch())
    types = [event["type"] for event in seen]
    assert "app.created" in types and "app.deployed" in types, types
    assert types.index("app.created") < types.index("policy.admission") < types.index("app.deployed"), types
    (app,) = [a for a in ada.get("/apps").json() if a["name"] == "published"]
    assert {e["subject"] for e in seen if e["type"] != "app.created"} == {app["id"]}
    ada.delete(f"/apps/{app['id']}")
