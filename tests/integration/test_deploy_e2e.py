"""End to end on the real Docker Engine, NATS and Traefik: deploy, balance, heal, scale,
delete, and survive a deployer crash."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import nats
import nats.js.errors
from nats.js.api import DeliverPolicy

from tests.conftest import app_body
from tests.harness.procs import free_port, wait_for
from tests.integration.helpers import app_containers, app_objects, running, wait_app, wait_gone


def test_three_replicas_answer_through_traefik_and_heal_scale_delete(suite, user, http_image, docker_client):
    created = user.post("/apps", json=app_body(http_image, "web", replicas=3))
    assert created.status_code == 202, created.text
    app = created.json()
    app_id = app["id"]
    assert app["status"] == "pending" and app["desired_replicas"] == 3
    assert app["url"] == f"http://{app_id}.localhost:{suite.http_port}/"

    wait_app(user, app_id, running(3))
    backends = suite.wait_distinct_backends(f"{app_id}.localhost", 3)
    assert len(backends) == 3

    # A replica killed behind CRANE's back is replaced and the app serves from 3 replicas again.
    victim = app_containers(docker_client, suite.suite, app_id)[0]
    victim_host = victim.attrs["Config"]["Hostname"]
    victim.kill()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        live = [c for c in app_containers(docker_client, suite.suite, app_id, all_states=False)]
        if len(live) == 3 and victim.id not in {c.id for c in live}:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the killed replica was not replaced within 10 s")
    after = suite.wait_distinct_backends(f"{app_id}.localhost", 3, timeout=30)
    assert victim_host not in after
    died = asyncio.run(_events_about(suite.nats_url, "container.died", app_id))
    assert [e["data"]["container"] for e in died] == [victim.name]

    # Scale to 1: exactly one container remains.
    assert user.post(f"/apps/{app_id}/scale", json={"replicas": 1}).status_code == 202
    wait_app(user, app_id, running(1))
    assert len(app_containers(docker_client, suite.suite, app_id)) == 1

    # Delete: no container, network, volume or state is left behind.
    assert user.delete(f"/apps/{app_id}").status_code == 202
    wait_gone(user, app_id)
    deadline = time.monotonic() + 20
    while any(app_objects(docker_client, suite.suite, app_id).values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(app_objects(docker_client, suite.suite, app_id).values())
    assert asyncio.run(_kv_keys_mentioning(suite.nats_url, app_id)) == []


async def _events_about(nats_url: str, subject: str, app_id: str) -> list[dict]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        found = []
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                return found
            try:  # other tests put malformed messages on the bus on purpose
                body = json.loads(msg.data)
            except ValueError:
                continue
            if isinstance(body, dict) and isinstance(body.get("data"), dict) and body["data"].get("app_id") == app_id:
                found.append(body)
    finally:
        await nc.close()


async def _kv_keys_mentioning(nats_url: str, app_id: str) -> list[str]:
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value("crane_apps")
        try:
            keys = await kv.keys()
        except nats.js.errors.NoKeysError:  # the bucket is empty: this test's app was the only one
            return []
        return [k for k in keys if k.endswith("." + app_id)]
    finally:
        await nc.close()


def test_deployer_killed_mid_deploy_finishes_after_restart_without_duplicates(suite, user, http_image, docker_client):
    app_id = user.post("/apps", json=app_body(http_image, "crashy", replicas=5)).json()["id"]
    deadline = time.monotonic() + 30
    while not app_containers(docker_client, suite.suite, app_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    suite.procs["deployer"].kill()  # SIGKILL while it is creating replicas
    partial = len(app_containers(docker_client, suite.suite, app_id))
    assert 1 <= partial <= 5
    suite.start_service("deployer")
    wait_app(user, app_id, running(5), timeout=60)
    containers = app_containers(docker_client, suite.suite, app_id)
    slots = sorted(int(c.labels["crane.replica"]) for c in containers)
    assert slots == [0, 1, 2, 3, 4], f"expected one container per slot, got {slots}"
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_direct_nats_publish_deploys_like_the_api(suite, user, http_image, docker_client):
    """A client with the client NATS user and its API token in Crane-Token, nothing else."""
    spec = app_body(http_image, "viabus", replicas=2)
    message = {"source": "test-client", "data": {"spec": spec}}
    token = user.headers["Authorization"].removeprefix("Bearer ")

    async def publish() -> None:
        nc = await nats.connect(suite.client_nats_url)
        headers = {"Crane-Token": token}
        await nc.jetstream().publish("client.app.created", json.dumps(message).encode(), headers=headers)
        await nc.close()

    asyncio.run(publish())
    deadline = time.monotonic() + 30
    mine: list = []
    while not mine and time.monotonic() < deadline:
        mine = [a for a in user.get("/apps").json() if a["name"] == "viabus"]
        time.sleep(0.2)
    assert len(mine) == 1, "the app published on NATS does not show in GET /apps"
    app_id = mine[0]["id"]
    assert app_id.startswith("viabus-") and mine[0]["owner"] == user.email
    wait_app(user, app_id, running(2))
    assert len(suite.wait_distinct_backends(f"{app_id}.localhost", 2)) == 2
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_invalid_bus_message_is_dead_lettered_and_no_service_dies(suite):
    bad = {"type": "app.created", "data": {"spec": {"name": "x", "services": [{"name": "w"}]}}}

    async def publish_and_read() -> tuple[dict, str]:
        nc = await nats.connect(suite.nats_url)
        js = nc.jetstream()
        ack = await js.publish("app.created", json.dumps(bad).encode())
        await js.publish("app.created", b"{not json")
        rejected = await js.pull_subscribe("event.rejected", durable=f"t-{ack.seq}")
        letters = await js.pull_subscribe("deadletter.app.created", durable=f"d-{ack.seq}", stream="CRANE_DEADLETTER")
        found: dict = {}
        reason = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (found and reason):
            try:
                for msg in await rejected.fetch(10, timeout=1):
                    body = json.loads(msg.data)
                    if body["id"] == f"rejected-{ack.seq}":
                        found = body
                for msg in await letters.fetch(10, timeout=1):
                    if msg.metadata.sequence.stream and msg.data == json.dumps(bad).encode():
                        reason = msg.headers["Crane-Reason"]
            except nats.errors.TimeoutError:
                pass
        await nc.close()
        return found, reason

    event, reason = asyncio.run(publish_and_read())
    assert "data.spec.services.0.image" in event["data"]["reason"]
    assert "data.spec.services.0.image" in reason
    time.sleep(1)
    dead = suite.stopped_processes()
    assert dead == [], f"services died: {dead}\n{suite.logs()}"


def test_missing_image_fails_with_dockers_reason(user):
    created = user.post("/apps?wait=true&timeout=30", json=app_body("crane-test/does-not-exist:1", "ghost"))
    app = created.json()
    assert app["status"] == "failed", app
    assert "does-not-exist" in app["reason"]
    user.delete(f"/apps/{app['id']}")


def test_stop_start_restart_logs_stats_clone(suite, user, http_image, docker_client):
    app = user.post("/apps?wait=true", json=app_body(http_image, "life", replicas=2)).json()
    app_id = app["id"]
    assert app["status"] == "running"
    before = {c.id for c in app_containers(docker_client, suite.suite, app_id)}

    assert user.post(f"/apps/{app_id}/restart").status_code == 202
    wait_app(user, app_id, running(2))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        after = {c.id for c in app_containers(docker_client, suite.suite, app_id, all_states=False)}
        if len(after) == 2 and not after & before:
            break
        time.sleep(0.2)
    assert len(after) == 2 and not after & before, "restart must replace every replica"

    logs = user.post(f"/apps/{app_id}/logs", json={"tail": 5}).json()["containers"]
    assert len(logs) == 2 and all("container" in entry for entry in logs)
    stats = user.post(f"/apps/{app_id}/stats").json()["containers"]
    assert len(stats) == 2 and all(s["memory_limit_bytes"] == 64 * 1024**2 for s in stats)

    assert user.post(f"/apps/{app_id}/stop").status_code == 202
    stopped = wait_app(user, app_id, lambda a: a["status"] == "stopped")
    assert stopped["running_replicas"] == 0 and not app_containers(docker_client, suite.suite, app_id)
    assert user.post(f"/apps/{app_id}/start").status_code == 202
    wait_app(user, app_id, running(2))

    clone = user.post(f"/apps/{app_id}/clone").json()
    assert clone["id"] != app_id and clone["spec"] == app["spec"]
    wait_app(user, clone["id"], running(2))
    for target in (app_id, clone["id"]):
        user.delete(f"/apps/{target}")
        wait_gone(user, target)


def test_two_api_replicas_share_users_apps_and_keys(suite, user, http_image):
    port = free_port()
    replica = suite.start_service("api", {"CRANE_API_PORT": str(port)}, key="api-2")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{base}/health").status_code == 200, 30, "second api")
        other = httpx.Client(base_url=f"{base}/api/v1", headers=dict(user.headers), timeout=30)
        created = other.post("/apps", json=app_body(http_image, "twin")).json()
        assert user.get(f"/apps/{created['id']}").json()["id"] == created["id"]  # one key signs for both
        assert user.get("/apps").json()[-1]["id"] == created["id"]
        other.delete(f"/apps/{created['id']}")
        wait_gone(user, created["id"])
    finally:
        replica.stop()
        del suite.procs["api-2"]


def test_crash_looping_replica_backs_off_and_fails_with_the_exit_code(suite, user, http_image, docker_client):
    body = app_body(http_image, "crashloop")
    body["services"][0]["environment"] = {"EXIT_WITH": "3"}
    app_id = user.post("/apps", json=body).json()["id"]
    created: set[str] = set()
    deadline = time.monotonic() + 30
    app: dict = {}
    while time.monotonic() < deadline:
        created |= {c.id for c in app_containers(docker_client, suite.suite, app_id)}
        app = user.get(f"/apps/{app_id}").json()
        if app["status"] == "failed":
            break
        time.sleep(0.05)
    assert app["status"] == "failed", app
    assert "keeps exiting" in app["reason"] and "exit code 3" in app["reason"]
    # Back-off of 1, 2, 4 s: a handful of attempts, not hundreds; and none once it failed (a
    # window longer than the last back-off step: an absence has no event to wait for).
    failed_after = time.monotonic() - (deadline - 30)
    time.sleep(5)
    created |= {c.id for c in app_containers(docker_client, suite.suite, app_id)}
    print(f"crash loop: failed after {failed_after:.1f}s, {len(created)} containers created")
    assert 3 <= len(created) <= 6, f"{len(created)} containers created"
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_a_replica_keeps_only_the_capabilities_ordinary_images_need(suite, user, http_image, docker_client):
    """cap_drop: ALL, then the kept few back (container_defaults.py): the replica's main process
    has exactly those in effect; a service's own cap_drop takes more away."""
    body = app_body(http_image, "caps")
    body["services"].append({"name": "lean", "image": http_image, "cap_drop": ["ALL"]})
    app = user.post("/apps", json=body).json()
    wait_app(user, app["id"], running(2))
    bits = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7}
    expected = sum(1 << bit for bit in bits.values()) | 1 << 10  # and NET_BIND_SERVICE
    effective = {}
    for container in app_containers(docker_client, suite.suite, app["id"]):
        assert container.attrs["HostConfig"]["CapDrop"] == ["ALL"]
        code, status = container.exec_run(["/bin/busybox", "cat", "/proc/1/status"])
        assert code == 0
        line = next(line for line in status.decode().splitlines() if line.startswith("CapEff:"))
        effective[container.labels["crane.service"]] = int(line.split()[1], 16)
    assert effective == {"http": expected, "lean": 0}, {k: hex(v) for k, v in effective.items()}
    user.delete(f"/apps/{app['id']}")
    wait_gone(user, app["id"])


def test_a_change_with_wait_answers_once_it_is_carried_out(suite, user, http_image, docker_client):
    """PATCH ?wait=true answers when the deployer has acted on this change, not with the app
    as it ran before it (which was running already)."""
    app_id = user.post("/apps?wait=true", json=app_body(http_image, "waited")).json()["id"]
    scaled = user.patch(f"/apps/{app_id}?wait=true", json={"replicas": 3})
    assert scaled.status_code == 200, scaled.text
    assert scaled.json()["status"] == "running" and scaled.json()["running_replicas"] == 3, scaled.json()
    body = app_body(http_image, "waited")
    body["services"][0]["environment"] = {"VERSION": "2"}
    changed = user.patch(f"/apps/{app_id}?wait=true", json={"services": body["services"]})
    assert changed.status_code == 200 and changed.json()["status"] == "running", changed.text
    replicas = app_containers(docker_client, suite.suite, app_id, all_states=False)
    assert sorted("VERSION=2" in c.attrs["Config"]["Env"] for c in replicas) == [True], "replaced before the answer"
    assert user.patch(f"/apps/{app_id}", json={"replicas": 2}).status_code == 202  # without wait: at once
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)
