"""The lab against a real suite: a bounded load sent through the router to the app's own route,
a replica killed and healed, and every step in one causal chain (correlation id) on the events."""

from __future__ import annotations

import time

import pytest

from tests.conftest import app_body, make_user
from tests.integration.helpers import past_events, running, wait_app, wait_events, wait_gone


@pytest.fixture
def web(suite, user, http_image):
    app = user.post("/apps?wait=true", json=app_body(http_image, "lab", replicas=2)).json()
    assert app["status"] == "running", app
    suite.wait_distinct_backends(f"{app['id']}.localhost", 2)  # the router knows both replicas
    yield app
    user.delete(f"/apps/{app['id']}")
    wait_gone(user, app["id"])


def chain_types(events: list[dict], chain: str) -> list[str]:
    return [e["type"] for e in events if chain in (e.get("correlationid"), e["id"])]


def test_a_load_reaches_the_app_through_the_router_and_is_bounded(user, web):
    app_id = web["id"]
    assert user.get(f"/apps/{app_id}/lab/load").json() is None  # none yet
    started = user.post(f"/apps/{app_id}/lab/load", json={"rate": 20, "seconds": 2})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["running"] and run["rate"] == 20
    again = user.post(f"/apps/{app_id}/lab/load", json={"rate": 5, "seconds": 1})
    assert again.status_code == 409 and "already" in again.json()["detail"]
    deadline = time.monotonic() + 20
    while (status := user.get(f"/apps/{app_id}/lab/load").json())["running"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not status["running"] and not status["stopped"]
    assert status["sent"] == 40 and status["ok"] == 40 and status["failed"] == 0, status
    print(f"lab load: {status['ok']} of {status['sent']} answered, p95 {status['p95_ms']} ms")
    assert status["p95_ms"] is not None and status["p95_ms"] < 5000  # (generous: tens of ms here)
    events = wait_events(user, app_id, lambda es: any(e["type"] == "lab.load_finished" for e in es))
    begun = next(e for e in events if e["type"] == "lab.load_started")
    finished = next(e for e in events if e["type"] == "lab.load_finished")
    assert finished["correlationid"] == begun["id"] and finished["data"]["ok"] == 40
    # Stoppable: a long load ends at once when asked, and says it was stopped.
    user.post(f"/apps/{app_id}/lab/load", json={"rate": 5, "seconds": 300}).raise_for_status()
    time.sleep(0.5)
    stopped = user.delete(f"/apps/{app_id}/lab/load").json()
    assert stopped["stopped"] and not stopped["running"] and stopped["sent"] < 20


def test_a_careless_or_hostile_load_is_refused_naming_the_field(suite, user, web):
    app_id = web["id"]
    for body, field in [
        ({"rate": 10_000, "seconds": 5}, "rate"),
        ({"rate": 5, "seconds": 3600}, "seconds"),
        ({"rate": 5, "seconds": 5, "path": "http://169.254.169.254/"}, "path"),
        ({"rate": 5, "seconds": 5, "path": "//evil.example/"}, "path"),
        ({"rate": 5, "seconds": 5, "host": "other.localhost"}, "host"),
    ]:
        answer = user.post(f"/apps/{app_id}/lab/load", json=body)
        assert answer.status_code == 422 and field in answer.text, (body, answer.text)
    other = make_user(suite, "intruder")
    try:
        assert other.post(f"/apps/{app_id}/lab/load", json={"rate": 5, "seconds": 5}).status_code == 404
        assert other.get(f"/apps/{app_id}/lab/load").status_code == 404
        assert other.post(f"/apps/{app_id}/lab/kill", json={}).status_code == 404
    finally:
        other.close()
    assert user.post(f"/apps/{app_id}/lab/kill", json={"replica": 7}).status_code == 422
    assert user.post(f"/apps/{app_id}/lab/kill", json={"service": "nope"}).status_code == 422
    user.post(f"/apps/{app_id}/stop").raise_for_status()
    for path, body in ((f"/apps/{app_id}/lab/load", {"rate": 5, "seconds": 5}), (f"/apps/{app_id}/lab/kill", {})):
        refused = user.post(path, json=body)
        assert refused.status_code == 409 and "runs no replica" in refused.text, refused.text


def test_a_killed_replica_is_healed_and_the_chain_shows_death_and_healing(suite, user, web, docker_client):
    app_id = web["id"]
    accepted = user.post(f"/apps/{app_id}/lab/kill", json={"replica": 1})
    assert accepted.status_code == 202, accepted.text
    chain = accepted.json()["event_id"]

    def healed(events: list[dict]) -> bool:  # a replica in its place, in the kill's chain
        return any(e["type"] == "container.created" and e.get("correlationid") == chain for e in events)

    events = wait_events(user, app_id, healed)
    steps = chain_types(events, chain)
    assert steps[0] == "app.kill_requested" and "container.died" in steps, steps
    died = next(e for e in events if e["type"] == "container.died" and e.get("correlationid") == chain)
    assert died["data"]["exit_code"] == 137 and died["source"] == "crane/deployer"
    replaced = next(e for e in events if e["type"] == "container.created" and e.get("correlationid") == chain)
    assert replaced["data"]["replica"] == 1 and replaced["data"]["service"] == "http"
    wait_app(user, app_id, running(2))


def test_one_request_is_one_chain_from_admission_to_monitoring(user, web):
    events = wait_events(user, web["id"], lambda es: any(e["type"] == "monitoring.updated" for e in es))
    created = next(e for e in events if e["type"] == "app.created")
    steps = chain_types(events, created["id"])
    for step in (
        "policy.admission",
        "app.created",
        "scan.completed",
        "container.created",
        "app.deployed",
        "monitoring.updated",
    ):
        assert step in steps, (step, steps)
    by_type = {e["type"]: e for e in events if e.get("correlationid") == created["id"]}
    assert by_type["policy.admission"]["source"] == "crane/policy" and by_type["policy.admission"]["data"]["allowed"]
    assert by_type["monitoring.updated"]["source"] == "crane/monitor-config"
    assert "CraneReplicasDown" in by_type["monitoring.updated"]["data"]["rules"]
    # A later change begins its own chain, and what it leads to follows it.
    scaled = user.post(f"/apps/{web['id']}/scale", json={"replicas": 3})
    assert scaled.status_code == 202
    later = wait_events(user, web["id"], lambda es: any(e["type"] == "app.scaled" for e in es[len(events) :]))
    update = next(e for e in later[len(events) :] if e["type"] == "app.updated")
    assert "app.scaled" in chain_types(later, update["id"]) and update["id"] != created["id"]
    # The history read again still holds every event read before, and the later ones.
    again = {e["id"] for e in past_events(user, web["id"])}
    assert {e["id"] for e in later} <= again, sorted({e["id"] for e in later} - again)
