"""Waiting on apps and looking at what the deployer left on the Engine."""

from __future__ import annotations

import json
import time

import docker
import httpx


def wait_app(api: httpx.Client, app_id: str, predicate, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        response = api.get(f"/apps/{app_id}")
        if response.status_code == 200:
            body = response.json()
            if predicate(body):
                return body
        time.sleep(0.2)
    raise TimeoutError(f"app {app_id} did not reach the expected state; last seen: {body}")


def running(replicas: int):
    return lambda app: app["status"] == "running" and app["running_replicas"] == replicas


def wait_gone(api: httpx.Client, app_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.get(f"/apps/{app_id}").status_code == 404:
            return
        time.sleep(0.2)
    raise TimeoutError(f"app {app_id} still exists")


def remove_every_app(*clients: httpx.Client) -> None:
    """Delete every app each client owns and wait until each is gone (a test's cleanup)."""
    deleted = []
    for client in clients:
        me = client.get("/users/me").json()["id"]
        for app in client.get("/apps").json():
            if app["owner_id"] == me:  # (an admin lists everyone's)
                client.delete(f"/apps/{app['id']}")
                deleted.append((client, app["id"]))
    for client, app_id in deleted:
        wait_gone(client, app_id)


def suite_containers(
    client: docker.DockerClient, suite: str, app_id: str | None = None, all_states: bool = True
) -> list:
    """The suite's containers (of one app, if given). The SDK lists, then inspects each one; a
    container removed in between (the Engine drops a half-created one when its creator dies)
    means: list again."""
    filters = {"label": [f"crane.suite={suite}", *([f"crane.app={app_id}"] if app_id else [])]}
    for _ in range(10):
        try:
            return client.containers.list(all=all_states, filters=filters)
        except docker.errors.NotFound:
            time.sleep(0.1)
    return client.containers.list(all=all_states, filters=filters)


def app_containers(client: docker.DockerClient, suite: str, app_id: str, all_states: bool = True) -> list:
    return suite_containers(client, suite, app_id, all_states)


def app_objects(client: docker.DockerClient, suite: str, app_id: str) -> dict[str, list]:
    filters = {"label": [f"crane.suite={suite}", f"crane.app={app_id}"]}
    return {
        "containers": client.containers.list(all=True, filters=filters),
        "networks": client.networks.list(filters=filters),
        "volumes": client.volumes.list(filters=filters),
    }


def webhook(app_id: str, alertname: str, fingerprint: str, status: str = "firing") -> dict:
    """An Alertmanager webhook (v4) carrying one alert about ``app_id``."""
    return {
        "version": "4",
        "status": status,
        "receiver": "crane-alert-bridge",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": alertname, "crane_app": app_id},
                "annotations": {},
                "startsAt": "2026-11-22T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
        ],
    }


def settled_restarts(api: httpx.Client, app_id: str, timeout: float = 20, settle: float = 2) -> list[dict]:
    """The policy's restart decisions about the app: waits for the first, then a little more,
    so a second one (which would be a double action) has time to show."""

    def restarts() -> list[dict]:
        return [d for d in api.get(f"/apps/{app_id}/decisions").json() if d["action"] == "restart"]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not restarts():
        time.sleep(0.3)
    time.sleep(settle)
    return restarts()


def past_events(api: httpx.Client, app_id: str, seconds: int = 900) -> list[dict]:
    """The app's events of the last ``seconds``, as the API shows them to ``api``'s user."""
    from crane_cli.api import read_sse  # the crane CLI's reader

    response = api.get("/events", params={"app": app_id, "follow": "false", "since": seconds}, timeout=30)
    assert response.status_code == 200, response.text
    return [json.loads(m.data) for m in read_sse(iter(response.text.splitlines()))]


def wait_events(api: httpx.Client, app_id: str, predicate, timeout: float = 60) -> list[dict]:
    """The app's past events once ``predicate(events)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        events = past_events(api, app_id)
        if predicate(events) or time.monotonic() > deadline:
            assert predicate(events), f"not within {timeout}s: {[(e['type'], e.get('correlationid')) for e in events]}"
            return events
        time.sleep(0.5)
