"""A multi-service stack from a compose file on the real Engine: each service runs its own
replicas, services reach each other by name, a database over a named volume is never scaled
by CRANE, and every key CRANE does not apply comes back as a warning."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time

import docker

from tests.integration.helpers import (
    after_reconciles,
    app_containers,
    app_objects,
    reconcile_passes,
    wait_app,
    wait_gone,
)
from tests.integration.test_builds import context_tar
from tests.integration.test_deploy_e2e import _events_about

STACK = """
name: shop
x-common: &common
  restart: unless-stopped
services:
  web:
    <<: *common
    build: ./web
    ports: ["8080"]
    depends_on: [api, db]
    deploy: {{replicas: 3}}
  api:
    <<: *common
    image: {image}
    container_name: shop-api
    expose: ["8080"]
    environment: {{GREETING: "$${{NOT_INTERPOLATED}}", TAG: "${{TAG:-v1}}"}}
  db:
    image: {image}
    volumes: ["data:/data"]
    secrets: [db_password]
    configs: [{{source: db_conf, target: /etc/db.conf}}]
secrets:
  db_password: {{file: ./db_password.txt}}
configs:
  db_conf: {{content: "max_connections=20"}}
volumes:
  data: {{}}
"""
SECRET = "correct-horse-battery-staple-7f3a"


def _containers_by_service(docker_client, suite, app_id) -> dict[str, list]:
    out: dict[str, list] = {}
    for container in app_containers(docker_client, suite.suite, app_id, all_states=False):
        out.setdefault(container.labels["crane.service"], []).append(container)
    return out


def test_a_three_service_stack_runs_each_service_at_its_own_scale(suite, user, docker_client, http_image):
    files = {
        "compose": ("compose.yaml", STACK.format(image=http_image), "application/yaml"),
        "build.web": ("web.tar", context_tar({"Dockerfile": f"FROM {http_image}\n"}), "application/x-tar"),
        "secret.db_password": ("db_password.txt", SECRET, "text/plain"),
    }
    created = user.post("/apps?wait=true&timeout=120", files=files)
    assert created.status_code == 200, created.text
    app = created.json()
    app_id = app["id"]
    assert app["status"] == "running" and app["running_replicas"] == 5, app
    services = {s["name"]: (s["desired_replicas"], s["running_replicas"]) for s in app["services"]}
    assert app["spec"]["services"][0]["build"]["context"]  # web was built from the upload
    assert services == {"web": (3, 3), "api": (1, 1), "db": (1, 1)}
    warned = {w.split(":")[0] for w in app["warnings"]}
    assert warned == {"services.api.container_name"}, app["warnings"]  # depends_on is honoured
    assert app["spec"]["services"][1]["environment"] == {"GREETING": "${NOT_INTERPOLATED}", "TAG": "v1"}

    running = _containers_by_service(docker_client, suite, app_id)
    assert {name: len(c) for name, c in running.items()} == {"web": 3, "api": 1, "db": 1}
    # Services find each other by name on the app's network (busybox's own resolver: its static
    # wget cannot resolve names itself).
    web = running["web"][0]
    for peer in ("api", "db"):
        code, answer = web.exec_run(["/bin/busybox", "nslookup", peer])
        addresses = re.findall(r"Address:\s*(\d+\.\d+\.\d+\.\d+)$", answer.decode(), re.MULTILINE)
        assert code == 0 and addresses, answer
        expected = running[peer][0].attrs["Config"]["Hostname"]
        deadline = time.monotonic() + 15  # a replica that runs may not listen yet
        while True:
            code, output = web.exec_run(["/bin/busybox", "wget", "-qO-", f"http://{addresses[-1]}:8080/"])
            if (code == 0 and output.decode().strip() == expected) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert code == 0 and output.decode().strip() == expected, (answer, output)

    # The secret and the config are in the database's replica, read-only, and nowhere else.
    code, output = running["db"][0].exec_run(["/bin/busybox", "cat", "/run/secrets/db_password", "/etc/db.conf"])
    assert code == 0 and output.decode() == SECRET + "max_connections=20", output
    code, _ = running["db"][0].exec_run(["/bin/busybox", "sh", "-c", "echo x > /run/secrets/db_password"])
    assert code != 0  # a read-only mount: not even root in the replica can change it
    code, _ = running["api"][0].exec_run(["/bin/busybox", "cat", "/run/secrets/db_password"])
    assert code != 0  # only the services that ask for it get it

    # The same files uploaded again (as `crane up` twice would): nothing is replaced.
    passes = reconcile_passes(suite)
    again = user.patch(f"/apps/{app_id}", files=files)
    assert again.status_code == 202, again.text
    after_reconciles(suite, passes)  # the deployer has acted on the update: it replaced nothing
    assert {c.id for cs in _containers_by_service(docker_client, suite, app_id).values() for c in cs} == {
        c.id for cs in running.values() for c in cs
    }

    # The database's only volume is never given a second replica by CRANE.
    refused = user.post(f"/apps/{app_id}/scale", json={"service": "db", "replicas": 2})
    assert refused.status_code == 409 and "data" in refused.json()["detail"], refused.text
    assert user.post(f"/apps/{app_id}/scale", json={"service": "nope", "replicas": 2}).status_code == 422
    assert user.post(f"/apps/{app_id}/scale", json={"service": "api", "replicas": 2}).status_code == 202
    scaled = wait_app(user, app_id, lambda a: a["status"] == "running" and a["running_replicas"] == 6)
    assert {s["name"]: s["running_replicas"] for s in scaled["services"]} == {"web": 3, "api": 2, "db": 1}
    assert len(_containers_by_service(docker_client, suite, app_id)["db"]) == 1
    volumes = sorted(v.name for v in app_objects(docker_client, suite.suite, app_id)["volumes"])
    assert volumes[0].startswith(f"{suite.suite}-{app_id}_crane-files-db-") and volumes[1:] == [
        f"{suite.suite}-{app_id}_data"
    ]

    # The export keeps each service's own count; the secret is named, never given.
    exported = user.get(f"/apps/{app_id}/compose").text
    assert "replicas: 3" in exported and "replicas: 2" in exported and "replicas: 1" in exported
    assert "db_password" in exported and SECRET not in exported
    subjects = ("app.>", "container.>", "scan.>", "build.>", "policy.>", "event.>")
    events = [e for subject in subjects for e in asyncio.run(_events_about(suite.nats_url, subject, app_id))]
    assert events and SECRET not in json.dumps(events)
    assert SECRET not in user.get(f"/apps/{app_id}").text
    assert not [p.name for p in suite.workdir.glob("*.log") if SECRET in p.read_text(errors="replace")]

    assert user.delete(f"/apps/{app_id}").status_code == 202
    wait_gone(user, app_id)
    assert not any(app_objects(docker_client, suite.suite, app_id).values())


def test_a_service_opted_into_per_replica_volumes_scales_with_a_volume_each(suite, user, docker_client, http_image):
    body = {
        "name": "cache",
        "services": [
            {
                "name": "kv",
                "image": http_image,
                "volumes": ["state:/data"],
                "replicas": 1,
                "volume_scaling": "per_replica",
            }
        ],
    }
    app_id = user.post("/apps?wait=true", json=body).json()["id"]
    assert user.post(f"/apps/{app_id}/scale", json={"replicas": 2}).status_code == 202
    wait_app(user, app_id, lambda a: a["status"] == "running" and a["running_replicas"] == 2)
    volumes = sorted(v.name for v in app_objects(docker_client, suite.suite, app_id)["volumes"])
    assert volumes == [f"{suite.suite}-{app_id}_state-r0", f"{suite.suite}-{app_id}_state-r1"]
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


ORDERED = """
name: ordered
services:
  migrate:
    image: {image}
    environment: {{EXIT_WITH: "0"}}
    restart: no
  db:
    image: {image}
    healthcheck:
      test: ["CMD", "/bin/busybox", "wget", "-qO-", "http://127.0.0.1:8080/health"]
      interval: 1s
      retries: 30
  web:
    image: {image}
    ports: ["8080"]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
      db: {{condition: service_healthy}}
"""


def _by_service(docker_client, suite, app_id) -> dict[str, object]:
    return {c.labels["crane.service"]: c for c in app_containers(docker_client, suite.suite, app_id)}


def test_services_start_after_their_dependencies_and_one_shot_jobs_stay_done(suite, user, docker_client, http_image):
    created = user.post(
        "/apps?wait=true", content=ORDERED.format(image=http_image), headers={"Content-Type": "application/yaml"}
    )
    assert created.status_code == 200, created.text
    app = created.json()
    assert app["status"] == "running", app
    containers = _by_service(docker_client, suite, app["id"])
    migrate, db, web = (containers[name].attrs for name in ("migrate", "db", "web"))
    assert migrate["State"]["Status"] == "exited" and migrate["State"]["ExitCode"] == 0
    # web was created only once the job had finished and db answered its health check.
    assert web["Created"] > migrate["State"]["FinishedAt"]
    db_healthy = [h["End"] for h in db["State"]["Health"]["Log"] if h["ExitCode"] == 0]
    assert db_healthy and web["Created"] > min(db_healthy)
    # A change to the app (web scaled out) reconciles it again: the finished job is left as
    # it is, not run again.
    passes = reconcile_passes(suite)
    assert user.post(f"/apps/{app['id']}/scale", json={"service": "web", "replicas": 2}).status_code == 202
    wait_app(user, app["id"], lambda a: {v["name"]: v["running_replicas"] for v in a["services"]}["web"] == 2)
    after_reconciles(suite, passes)
    assert _by_service(docker_client, suite, app["id"])["migrate"].id == containers["migrate"].id
    user.delete(f"/apps/{app['id']}")
    wait_gone(user, app["id"])


def test_a_job_that_fails_without_restart_fails_the_app(suite, user, http_image):
    body = {
        "name": "failing",
        "services": [{"name": "job", "image": http_image, "environment": {"EXIT_WITH": "3"}, "restart": "no"}],
    }
    app_id = user.post("/apps", json=body).json()["id"]
    # It may be seen running for a moment before it exits; then it is failed, and stays so.
    app = wait_app(user, app_id, lambda a: a["status"] == "failed", timeout=60)
    assert "job exited with code 3 (restart: no)" in app["reason"], app
    passes = reconcile_passes(suite)
    assert user.patch(f"/apps/{app_id}", json={"replicas": 1}).status_code == 202  # the same: a reconcile
    after_reconciles(suite, passes)  # it ran: the job was not started again
    assert user.get(f"/apps/{app_id}").json()["status"] == "failed"
    user.delete(f"/apps/{app['id']}")
    wait_gone(user, app["id"])


def test_a_volume_another_app_holds_is_never_mounted(suite, user, docker_client, http_image):
    """Volume names join the suite, the app id and the volume's name; should one be made by
    someone else first, the volume's app label decides: CRANE refuses to mount another app's
    volume (or one it did not make) and says whose it is."""
    first = user.post("/apps", json={"name": "holder", "services": [{"name": "w", "image": http_image}]}).json()
    number = int(first["id"].rsplit("-", 1)[1])
    squatted = {}
    for offset, owner in ((1, "someone-else-1"), (2, None)):  # the next two apps' volume names
        name = f"{suite.suite}-probe-{number + offset}_data"
        labels = {"crane.suite": suite.suite, **({"crane.app": owner} if owner else {})}
        squatted[name] = docker_client.volumes.create(name=name, labels=labels)
    try:
        for offset, expected in ((1, "belongs to the app someone-else-1"), (2, "outside this suite's apps")):
            body = {"name": "probe", "services": [{"name": "db", "image": http_image, "volumes": ["data:/data"]}]}
            created = user.post("/apps", json=body).json()
            assert created["id"] == f"probe-{number + offset}", created  # no one else created apps meanwhile
            failed = wait_app(user, created["id"], lambda a: a["status"] == "failed", timeout=60)
            assert expected in failed["reason"], failed
            assert not app_containers(docker_client, suite.suite, created["id"])
            user.delete(f"/apps/{created['id']}")
            wait_gone(user, created["id"])
    finally:
        user.delete(f"/apps/{first['id']}")
        wait_gone(user, first["id"])
        for volume in squatted.values():
            with contextlib.suppress(docker.errors.NotFound):
                volume.remove(force=True)
