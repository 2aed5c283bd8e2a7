"""Apps on the network: each app has a network of its own, on a subnet of CRANE's address
pool, so no app's container can open a connection to another app's, and an engine holds far
more apps than Docker's default address pools allow (about 30 networks)."""

from __future__ import annotations

import ipaddress
import time

from tests.conftest import app_body, make_user
from tests.integration.helpers import app_containers, running, wait_app, wait_gone


def _connects(container, address: str, port: int = 8080) -> bool:
    """Whether ``container`` gets an HTTP answer from address:port within 3 s (busybox's wget
    crashes with its own -T, so busybox timeout bounds it)."""
    probe = ["/bin/busybox", "timeout", "3", "/bin/busybox", "wget", "-qO-", f"http://{address}:{port}/"]
    code, _ = container.exec_run(probe)
    return code == 0


def _address(container) -> str:
    container.reload()
    (network,) = container.attrs["NetworkSettings"]["Networks"].values()
    return network["IPAddress"]


def test_an_app_cannot_reach_another_apps_containers(suite, user, docker_client, http_image):
    mine = user.post("/apps?wait=true", json=app_body(http_image, "mine", replicas=2)).json()
    stranger = make_user(suite, "stranger")
    theirs = stranger.post("/apps?wait=true", json=app_body(http_image, "theirs", replicas=1)).json()
    try:
        assert mine["status"] == theirs["status"] == "running"
        own = app_containers(docker_client, suite.suite, mine["id"], all_states=False)
        (other,) = app_containers(docker_client, suite.suite, theirs["id"], all_states=False)
        # Each container is on exactly one network: its app's, with a subnet from the pool.
        for container in [*own, other]:
            container.reload()
            assert list(container.attrs["NetworkSettings"]["Networks"]) == [
                f"{suite.suite}-net-{container.labels['crane.app']}"
            ]
            assert ipaddress.ip_address(_address(container)) in ipaddress.ip_network("10.203.0.0/16")
        # The control: replicas of one app reach each other, so a refusal below means isolation.
        deadline = time.monotonic() + 15
        while not _connects(own[0], _address(own[1])) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _connects(own[0], _address(own[1]))
        assert not _connects(own[0], _address(other)), "another app's replica answered"
        assert not _connects(other, _address(own[0])), "another app's replica answered"
        # Both are still served through the router, each by its own replicas.
        for app, replicas in ((mine, own), (theirs, [other])):
            assert wait_app(user if app is mine else stranger, app["id"], running(app["running_replicas"]))
            answers = set(suite.wait_distinct_backends(f"{app['id']}.localhost", len(replicas)))
            assert answers == {c.id[:12] for c in replicas}, answers
    finally:
        user.delete(f"/apps/{mine['id']}")
        stranger.delete(f"/apps/{theirs['id']}")
        wait_gone(user, mine["id"])
        wait_gone(stranger, theirs["id"])
        stranger.close()


def test_sixty_apps_fit_on_one_engine(suite, admin, docker_client, http_image):
    """Past about 29 apps Docker's default pools ran out; CRANE's pool holds 512 networks."""
    quota = {"replicas": 1000, "cpus": 1000, "memory_mb": 1_000_000, "networks": 1000}
    assert admin.patch(f"/users/{admin.email}", json={"quota": quota}).status_code == 200
    ids = []
    try:
        for i in range(60):
            created = admin.post("/apps", json=app_body(http_image, f"many{i}", replicas=1))
            assert created.status_code == 202, created.text
            ids.append(created.json()["id"])
        deadline = time.monotonic() + 300
        pending = set(ids)
        while pending and time.monotonic() < deadline:
            for app_id in list(pending):
                app = admin.get(f"/apps/{app_id}").json()
                assert app["status"] != "failed", app
                if app["status"] == "running" and app["running_replicas"] == 1:
                    pending.discard(app_id)
            time.sleep(1)
        assert not pending, f"{len(pending)} of 60 apps did not come up: {sorted(pending)[:5]}..."
        networks = {n.name for n in docker_client.networks.list(filters={"label": f"crane.suite={suite.suite}"})}
        assert {f"{suite.suite}-net-{app_id}" for app_id in ids} <= networks
    finally:
        for app_id in ids:
            admin.delete(f"/apps/{app_id}")
        for app_id in ids:
            wait_gone(admin, app_id, timeout=120)


SEGMENTED = """
name: segmented
services:
  web: {{image: {image}, ports: ["8080"], networks: [front]}}
  api:
    image: {image}
    expose: ["8080"]
    networks:
      front: {{aliases: [backend]}}
      back:
  db: {{image: {image}, expose: ["8080"], networks: [back]}}
networks:
  front: {{}}
  back: {{internal: true}}
"""


def _addresses(container) -> dict[str, str]:
    container.reload()
    return {name: net["IPAddress"] for name, net in container.attrs["NetworkSettings"]["Networks"].items()}


def test_an_apps_own_networks_keep_its_services_apart_as_compose_would(suite, user, docker_client, http_image):
    created = user.post(
        "/apps?wait=true", content=SEGMENTED.format(image=http_image), headers={"Content-Type": "application/yaml"}
    )
    assert created.status_code == 200 and created.json()["status"] == "running", created.text
    app_id = created.json()["id"]
    try:
        by_service = {c.labels["crane.service"]: c for c in app_containers(docker_client, suite.suite, app_id)}
        front, back = f"{suite.suite}-net-{app_id}.front", f"{suite.suite}-net-{app_id}.back"
        assert set(_addresses(by_service["web"])) == {front}
        assert set(_addresses(by_service["api"])) == {front, back}
        assert set(_addresses(by_service["db"])) == {back}
        assert docker_client.networks.get(back).attrs["Internal"] is True
        # web finds api by its alias on front; web cannot reach db; api can.
        code, answer = by_service["web"].exec_run(["/bin/busybox", "nslookup", "backend"])
        assert code == 0 and _addresses(by_service["api"])[front] in answer.decode(), answer
        deadline = time.monotonic() + 15
        while not _connects(by_service["api"], _addresses(by_service["db"])[back]) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _connects(by_service["api"], _addresses(by_service["db"])[back])
        assert not _connects(by_service["web"], _addresses(by_service["db"])[back])
        assert suite.wait_distinct_backends(f"{app_id}.localhost", 1)  # routed on front
    finally:
        user.delete(f"/apps/{app_id}")
        wait_gone(user, app_id)
    assert not docker_client.networks.list(filters={"label": [f"crane.suite={suite.suite}", f"crane.app={app_id}"]})
