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


def metric_total(suite, service: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples that carry ``labels``, read from ``service``'s /metrics."""
    return metrics_at(f"http://127.0.0.1:{suite.metrics_ports[service]}/metrics", name, **labels)


def metrics_at(url: str, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples that carry ``labels`` in the Prometheus text at ``url``."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(url, timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def wait_metric(suite, service: str, name: str, at_least: float, timeout: float = 30, **labels: str) -> float:
    """Wait until ``service`` has counted ``at_least`` of ``name``: a barrier on work done
    (events handled, reconcile passes run), where a fixed sleep would only hope for it."""
    deadline = time.monotonic() + timeout
    while (value := metric_total(suite, service, name, **labels)) < at_least:
        assert time.monotonic() < deadline, f"{service} counted {value} {name} {labels}, not {at_least}, in {timeout}s"
        time.sleep(0.1)
    return value


def reconcile_passes(suite) -> float:
    """How many app reconcile passes the deployer has run (whatever their outcome)."""
    return metric_total(suite, "deployer", "crane_reconcile_duration_seconds_count")


def after_reconciles(suite, since: float, passes: int = 1, timeout: float = 30) -> None:
    """Return once the deployer has run ``passes`` reconcile passes after ``since`` (a count
    read before the change): what the deployer would do about the change is done by then."""
    wait_metric(suite, "deployer", "crane_reconcile_duration_seconds_count", since + passes, timeout)


def alerts_handled(suite) -> float:
    return metric_total(suite, "policy", "crane_events_handled_total", subject="alert.firing", outcome="ok")


def settled_restarts(suite, api: httpx.Client, app_id: str, handled: float, timeout: float = 30) -> list[dict]:
    """The policy's restart decisions about the app, once the policy has handled ``handled``
    alert.firing events in all (the count before the alerts, plus those the bridge published):
    a second decision (a double action) would be among them by then."""
    wait_metric(suite, "policy", "crane_events_handled_total", handled, timeout, subject="alert.firing", outcome="ok")

    def restarts() -> list[dict]:
        return [d for d in api.get(f"/apps/{app_id}/decisions").json() if d["action"] == "restart"]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not restarts():
        time.sleep(0.3)
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
