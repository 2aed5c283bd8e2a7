"""The admission policy (Rego) on a running suite: privileges, host paths and quotas are refused
with reasons that name the field; admins change allow-lists and quotas; direct NATS publishers
get the same answers as REST callers."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid

import docker
import httpx
import nats

from tests.conftest import app_body
from tests.integration.helpers import app_containers, running, wait_app, wait_gone


def refusal(response) -> list[str]:
    assert response.status_code == 403, response.text
    detail = response.json()["detail"]
    assert detail["message"] == "refused by the admission policy"
    return detail["reasons"]


def test_privileges_are_refused_naming_the_field(suite, user, http_image):
    def with_service(**extra):
        body = app_body(http_image, "risky")
        body["services"][0].update(extra)
        return body

    assert refusal(user.post("/apps", json=with_service(privileged=True))) == [
        "services.http.privileged: privileged containers are not allowed"
    ]
    assert "services.http.network_mode" in refusal(user.post("/apps", json=with_service(network_mode="host")))[0]
    socket = refusal(user.post("/apps", json=with_service(volumes=["/var/run/docker.sock:/var/run/docker.sock"])))
    assert "Docker socket" in socket[0]
    assert "SYS_ADMIN" in refusal(user.post("/apps", json=with_service(cap_add=["SYS_ADMIN"])))[0]
    compose = "name: risky\nservices:\n  w:\n    image: i\n    pid: host\n    volumes: ['/etc:/host-etc:ro']\n"
    reasons = refusal(user.post("/apps", content=compose, headers={"Content-Type": "application/yaml"}))
    # /etc is never mounted, whatever the policy says; the policy's own reasons follow.
    assert [r.split(":")[0] for r in reasons] == ["services.w.volumes.0", "services.w.pid", "services.w.volumes"]
    assert not [a for a in user.get("/apps").json() if a["spec"]["name"] == "risky"]
    metrics = httpx.get(f"http://127.0.0.1:{suite.metrics_ports['policy']}/metrics").text
    assert 'crane_admission_decisions_total{verdict="refused"}' in metrics


def test_quotas_are_per_user_and_admins_set_them(admin, user, http_image):
    quota = {"replicas": 2, "cpus": 4, "memory_mb": 4096}
    patched = admin.patch(f"/users/{user.email}", json={"quota": quota})
    assert patched.status_code == 200 and patched.json()["quota"] == quota
    first = user.post("/apps", json=app_body(http_image, "quota-a", replicas=2))
    assert first.status_code == 202, first.text
    app_id = first.json()["id"]
    assert refusal(user.post("/apps", json=app_body(http_image, "quota-b")))[0].startswith("quota.replicas:")
    assert refusal(user.post(f"/apps/{app_id}/scale", json={"replicas": 3}))[0].startswith("quota.replicas:")
    assert user.post(f"/apps/{app_id}/scale", json={"replicas": 1}).status_code == 202  # less is always fine
    assert admin.patch(f"/users/{user.email}", json={"quota": None}).json()["quota"] is None
    assert user.post(f"/apps/{app_id}/scale", json={"replicas": 3}).status_code == 202  # default quota: 20
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_an_admin_allow_list_lets_a_host_path_in(suite, admin, user, http_image):
    shipped = admin.get("/policies/admission").json()["source"]
    with tempfile.TemporaryDirectory(prefix="crane-allowed-") as shared_dir:
        body = app_body(http_image, "mounts")
        body["services"][0]["volumes"] = [f"{shared_dir}:/shared:ro"]
        assert "allow-list" in refusal(user.post("/apps", json=body))[0]
        allowing = shipped.replace("allowed_host_paths := []", f'allowed_host_paths := ["{shared_dir}"]')
        assert allowing != shipped
        assert admin.put("/policies/admission", json={"source": allowing}).status_code == 200
        try:
            deadline = time.monotonic() + 10  # the policy service re-reads policies every 2 s
            while (created := user.post("/apps", json=body)).status_code == 403 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert created.status_code == 202, created.text
            app_id = created.json()["id"]
            wait_app(user, app_id, running(1))
            engine = docker.from_env()
            (container,) = app_containers(engine, suite.suite, app_id)
            mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
            assert mounts["/shared"]["Source"] == shared_dir and mounts["/shared"]["RW"] is False
            exported = user.get(f"/apps/{app_id}/compose").text
            assert f"{shared_dir}:/shared:ro" in exported
            user.delete(f"/apps/{app_id}")
            wait_gone(user, app_id)
        finally:
            assert admin.put("/policies/admission", json={"source": shipped}).status_code == 200


async def _rejection_of(
    suite, subject: str, message: dict, needle: str, url: str, headers: dict | None = None
) -> str | None:
    """Publish ``message`` on ``subject`` as ``url``'s user; the reason of the event.rejected
    that follows and mentions ``needle`` (None within 30 s)."""
    publisher = await nats.connect(url)
    observer = await nats.connect(suite.nats_url)  # the test's own view of every stream
    deliver_new = nats.js.api.DeliverPolicy.NEW
    sub = await observer.jetstream().subscribe("event.rejected", ordered_consumer=True, deliver_policy=deliver_new)
    await publisher.jetstream().publish(subject, json.dumps(message).encode(), headers=headers)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                continue
            reason = str(json.loads(msg.data)["data"]["reason"])
            if needle in reason:
                return reason
        return None
    finally:
        await publisher.close()
        await observer.close()


def test_direct_publishers_meet_the_same_policy(suite, user, http_image):
    marker = f"direct-{uuid.uuid4().hex[:6]}"

    body = app_body(http_image, marker)
    body["services"][0]["privileged"] = True
    message = {"source": "test", "data": {"spec": body}}
    token = user.headers["Authorization"].removeprefix("Bearer ")
    reason = asyncio.run(
        _rejection_of(suite, "client.app.created", message, "privileged", suite.client_nats_url, {"Crane-Token": token})
    )
    assert reason and reason.startswith("refused by the admission policy: services.http.privileged")
    assert not [a for a in user.get("/apps").json() if a["spec"]["name"] == marker]


def test_parallel_creates_cannot_all_fit_one_quota(admin, user, http_image):
    """Admission and insert are one step per owner: ten creates at once, room for two."""
    quota = {"replicas": 2, "cpus": 4, "memory_mb": 4096}
    assert admin.patch(f"/users/{user.email}", json={"quota": quota}).status_code == 200
    try:

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=str(user.base_url), headers=user.headers, timeout=60) as client:
                bodies = [app_body(http_image, f"race-{i}") for i in range(10)]
                return await asyncio.gather(*(client.post("/apps", json=body) for body in bodies))

        answers = asyncio.run(burst())
        codes = sorted(a.status_code for a in answers)
        assert codes == [202] * 2 + [403] * 8, [(a.status_code, a.text[:120]) for a in answers]
        assert len([a for a in user.get("/apps").json() if a["spec"]["name"].startswith("race-")]) == 2
    finally:
        admin.patch(f"/users/{user.email}", json={"quota": None})
        for app in user.get("/apps").json():
            if app["spec"]["name"].startswith("race-"):
                user.delete(f"/apps/{app['id']}")
                wait_gone(user, app["id"])


def test_the_deployer_admits_every_spec_whoever_published_it(suite, user, http_image):
    """An app.updated from a service (not through the API) with a privileged spec is refused
    by the deployer, and the app stays as it was."""
    created = user.post("/apps", json=app_body(http_image, "trusted-update"))
    assert created.status_code == 202, created.text
    app = created.json()
    wait_app(user, app["id"], running(1))
    spec = app_body(http_image, "trusted-update")
    spec["services"][0]["privileged"] = True

    message = {"source": "crane/policy", "data": {"app_id": app["id"], "spec": spec}}
    # Published as a service would (app.* intents are trusted), not through the API.
    reason = asyncio.run(_rejection_of(suite, "app.updated", message, "privileged", suite.nats_url))
    assert reason and reason.startswith("refused by the admission policy: services.http.privileged"), reason
    assert user.get(f"/apps/{app['id']}").json()["spec"]["services"][0]["privileged"] is False
    user.delete(f"/apps/{app['id']}")
    wait_gone(user, app["id"])


def _wait_admitted(user, image: str, host_path: str, timeout: float = 20) -> None:
    """Wait until an app mounting ``host_path`` is admitted (the policy service re-reads its
    policies every 2 s), then remove that probe app."""
    body = app_body(image, "policy-probe")
    body["services"][0]["volumes"] = [f"{host_path}:/data:ro"]
    deadline = time.monotonic() + timeout
    while (created := user.post("/apps", json=body)).status_code == 403:
        assert time.monotonic() < deadline, f"the new policy was not in force within {timeout}s: {created.text}"
        time.sleep(0.2)
    assert created.status_code == 202, created.text
    user.delete(f"/apps/{created.json()['id']}")
    wait_gone(user, created.json()["id"])


def test_host_paths_are_judged_where_they_lead(suite, admin, user, http_image):
    """With a folder allowed, a symlink in it leading to /etc, or to a folder not allowed, is
    refused when the replica would be created; /etc is refused even when an admin allows it; a
    replica mounts where a link led when it was judged, not the link."""
    shipped = admin.get("/policies/admission").json()["source"]
    with (
        tempfile.TemporaryDirectory(prefix="crane-allowed-") as allowed,
        tempfile.TemporaryDirectory(prefix="crane-elsewhere-") as elsewhere,
    ):
        os.makedirs(f"{allowed}/inside")
        os.symlink("/etc", f"{allowed}/escape")
        os.symlink(elsewhere, f"{allowed}/aside")
        os.symlink("inside", f"{allowed}/fine")
        policy = shipped.replace("allowed_host_paths := []", f'allowed_host_paths := ["{allowed}", "/etc"]')
        assert admin.put("/policies/admission", json={"source": policy}).status_code == 200
        try:
            _wait_admitted(user, http_image, f"{allowed}/inside")  # the policy service has the new policy
            hard = app_body(http_image, "etc-direct")
            hard["services"][0]["volumes"] = ["/etc:/host-etc:ro"]
            assert "never mounts" in refusal(user.post("/apps", json=hard))[0]  # whatever the admin allows

            outcomes = {}
            for link in ("escape", "aside", "fine"):
                body = app_body(http_image, f"link-{link}")
                body["services"][0]["volumes"] = [f"{allowed}/{link}:/data:ro"]
                created = user.post("/apps", json=body)
                assert created.status_code == 202, created.text  # as written, the path is allowed
                outcomes[link] = wait_app(
                    user, created.json()["id"], lambda a: a["status"] in ("failed", "running"), timeout=60
                )
            assert outcomes["escape"]["status"] == "failed" and "leads to /etc" in outcomes["escape"]["reason"]
            assert outcomes["aside"]["status"] == "failed", outcomes["aside"]
            assert "allow-list" in outcomes["aside"]["reason"] and elsewhere in outcomes["aside"]["reason"]
            assert outcomes["fine"]["status"] == "running", outcomes["fine"]  # a link that stays inside is fine
            # The replica mounts the place judged, not the link (Docker follows a link anew at
            # every start: one moved between the check and a start would move the mount).
            (replica,) = app_containers(docker.from_env(), suite.suite, outcomes["fine"]["id"])
            inside = os.path.realpath(f"{allowed}/inside")
            assert [m["Source"] for m in replica.attrs["Mounts"] if m["Type"] == "bind"] == [inside]
            for outcome in outcomes.values():
                assert not app_containers(docker.from_env(), suite.suite, outcome["id"]) or outcome is outcomes["fine"]
                user.delete(f"/apps/{outcome['id']}")
                wait_gone(user, outcome["id"])
        finally:
            assert admin.put("/policies/admission", json={"source": shipped}).status_code == 200
