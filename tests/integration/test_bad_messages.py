"""Malformed, oversized and wrong-typed messages on every subject CRANE consumes are
dead-lettered with a reason, and every service keeps running."""

from __future__ import annotations

import asyncio
import json
import time

import nats

from crane_shared.events import MAX_EVENT_BYTES

CONSUMED = [
    "app.created", "app.updated", "app.deleted", "app.restart_requested", "alert.firing", "alert.resolved",
    "client.app.created", "client.app.updated", "client.app.deleted", "client.app.restart_requested",
]  # fmt: skip
BAD = {
    "malformed": b"{this is not json",
    "wrong-typed": json.dumps({"data": {"app_id": 12, "spec": "nope", "alertname": [], "fingerprint": {}}}).encode(),
    "oversized": json.dumps({"data": {"padding": "x" * (MAX_EVENT_BYTES + 10)}}).encode(),
    "not-an-object": b"[1, 2, 3]",
}


def test_every_consumed_subject_dead_letters_bad_messages(suite):
    async def publish_all() -> dict[str, str]:
        nc = await nats.connect(suite.nats_url)
        js = nc.jetstream()
        sent = {}
        for subject in CONSUMED:
            for kind, body in BAD.items():
                ack = await js.publish(subject, body)
                # The id of event.rejected: the sequence, with the stream's name outside the events stream.
                ref = str(ack.seq) if ack.stream == "CRANE_EVENTS" else f"{ack.stream}-{ack.seq}"
                sent[ref] = f"{subject}/{kind}"
        await nc.close()
        return sent

    async def reasons(sent: dict[str, str]) -> dict[str, str]:
        nc = await nats.connect(suite.nats_url)
        js = nc.jetstream()
        sub = await js.subscribe("event.rejected", ordered_consumer=True)
        found: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(found) < len(sent):
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                continue
            event = json.loads(msg.data)
            ref = event["id"].removeprefix("rejected-")
            if ref in sent:
                found[sent[ref]] = event["data"]["reason"]
        await nc.close()
        return found

    sent = asyncio.run(publish_all())
    found = asyncio.run(reasons(sent))
    missing = sorted(set(sent.values()) - set(found))
    assert not missing, f"not dead-lettered: {missing}"
    assert all(reason for reason in found.values())
    assert "bytes" in found["app.created/oversized"] and "not JSON" in found["alert.firing/malformed"]
    time.sleep(1)
    dead = suite.stopped_processes()
    assert dead == [], f"services died: {dead}"


def test_a_request_its_model_refuses_is_answered_with_the_field(suite):
    """Request/reply bodies are typed (crane_shared/rpc.py): a bad one gets the field and why,
    and the answering service lives on."""

    async def ask(subject: str, body: dict) -> dict:
        nc = await nats.connect(suite.nats_url)
        try:
            return json.loads((await nc.request(subject, json.dumps(body).encode(), timeout=10)).data)
        finally:
            await nc.close()

    logs = asyncio.run(ask("rpc.app.logs", {"app_id": "../etc", "tail": 10**9}))
    assert "app_id: String should match pattern" in logs["error"] and "tail: Input should be" in logs["error"], logs
    admit = asyncio.run(ask("rpc.policy.admit", {"owner": "a@b.c", "spec": {}, "extra": 1}))
    assert admit["error"].startswith("extra:"), admit
    stats = asyncio.run(ask("rpc.app.stats", {"app_id": "nothing-1"}))
    assert stats == {"containers": []}, stats  # a well-formed request is answered as before
    assert suite.stopped_processes() == []
