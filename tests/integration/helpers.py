"""Waiting on apps and looking at what the deployer left on the Engine."""

from __future__ import annotations

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


def app_containers(client: docker.DockerClient, suite: str, app_id: str, all_states: bool = True) -> list:
    """The app's containers. The SDK lists, then inspects each one; a container removed in
    between (the Engine drops a half-created one when its creator dies) means: list again."""
    filters = {"label": [f"crane.suite={suite}", f"crane.app={app_id}"]}
    for _ in range(10):
        try:
            return client.containers.list(all=all_states, filters=filters)
        except docker.errors.NotFound:
            time.sleep(0.1)
    return client.containers.list(all=all_states, filters=filters)


def app_objects(client: docker.DockerClient, suite: str, app_id: str) -> dict[str, list]:
    filters = {"label": [f"crane.suite={suite}", f"crane.app={app_id}"]}
    return {
        "containers": client.containers.list(all=True, filters=filters),
        "networks": client.networks.list(filters=filters),
        "volumes": client.volumes.list(filters=filters),
    }
