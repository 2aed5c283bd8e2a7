"""Build from source: a compose file and its services' build contexts uploaded together
(multipart), built by the Engine through the deployer (.dockerignore, args and target
honoured), never rebuilt for an unchanged context, a failed build leaving the running version
alone, and hostile contexts refused naming the part."""

from __future__ import annotations

import asyncio
import gzip
import io
import tarfile
import time

from tests.integration.helpers import (
    after_reconciles,
    app_containers,
    reconcile_passes,
    wait_app,
    wait_events,
    wait_gone,
)
from tests.integration.test_deploy_e2e import _events_about

COMPOSE = """
name: built
services:
  web:
    build:
      context: ./web
      target: app
      args: {GREETING: hello}
      cache_from: [somewhere]
    ports: ["8080"]
    deploy: {replicas: 2}
  api:
    image: IMAGE
    expose: ["8080"]
"""

DOCKERFILE = """FROM {image} AS app
ARG GREETING=none
ENV GREETING=$GREETING
COPY site/ /site/
FROM app AS broken
COPY does-not-exist /nowhere
"""


def context_tar(files: dict[str, bytes | str], mtime: float = 0, compress: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()


def web_context(image: str, mtime: float = 0, dockerfile: str | None = None) -> bytes:
    return context_tar(
        {
            "Dockerfile": dockerfile or DOCKERFILE.format(image=image),
            ".dockerignore": "site/secret.txt\n",
            "site/index.txt": "hi\n",
            "site/secret.txt": "do not ship\n",
        },
        mtime=mtime,
        compress=True,
    )


def upload(client, method: str, path: str, compose: str, contexts: dict[str, bytes]):
    files = {"compose": ("compose.yaml", compose, "application/yaml")}
    files |= {f"build.{service}": (f"{service}.tar.gz", data, "application/gzip") for service, data in contexts.items()}
    return client.request(method, path, files=files)


def test_a_service_is_built_from_its_uploaded_context(suite, user, docker_client, http_image):
    compose = COMPOSE.replace("IMAGE", http_image)
    created = upload(user, "POST", "/apps?wait=true&timeout=120", compose, {"web": web_context(http_image)})
    assert created.status_code == 200, created.text
    app = created.json()
    app_id = app["id"]
    assert app["status"] == "running" and app["running_replicas"] == 3, app
    assert any(w.startswith("services.web.build.cache_from") for w in app["warnings"]), app["warnings"]
    web = [
        c
        for c in app_containers(docker_client, suite.suite, app_id, all_states=False)
        if c.labels["crane.service"] == "web"
    ]
    assert len(web) == 2 and web[0].image.tags[0].startswith(f"crane-build/{suite.suite}-{app_id}-web:")
    code, output = web[0].exec_run(["/bin/busybox", "sh", "-c", "echo $GREETING; /bin/busybox ls /site"])
    assert code == 0 and output.decode().split() == ["hello", "index.txt"], output  # args, target, .dockerignore

    builds = user.get(f"/apps/{app_id}/builds").json()
    assert [(b["service"], b["status"]) for b in builds] == [("web", "succeeded")]
    assert "Step" in builds[0]["log"] and builds[0]["seconds"] > 0
    kinds = {e["type"] for e in asyncio.run(_events_about(suite.nats_url, "build.>", app_id))}
    assert {"build.started", "build.progress", "build.completed"} <= kinds, kinds

    # The same files packed again (other timestamps): nothing is built, nothing restarts.
    passes = reconcile_passes(suite)
    same = upload(user, "PATCH", f"/apps/{app_id}", compose, {"web": web_context(http_image, mtime=time.time())})
    assert same.status_code == 202, same.text
    after_reconciles(suite, passes)  # the deployer has acted on it
    assert len(user.get(f"/apps/{app_id}/builds").json()) == 1
    assert {c.id for c in app_containers(docker_client, suite.suite, app_id, all_states=False)} >= {c.id for c in web}

    # A context whose build fails: the app says why, and the running version keeps serving.
    broken = DOCKERFILE.format(image=http_image).replace("COPY site/ /site/", "COPY missing/ /site/")
    failed = upload(user, "PATCH", f"/apps/{app_id}", compose, {"web": web_context(http_image, dockerfile=broken)})
    assert failed.status_code == 202, failed.text
    failing = wait_app(user, app_id, lambda a: a["status"] == "failed", timeout=120)
    assert "build of web failed" in failing["reason"] and "missing" in failing["reason"], failing
    still = [
        c
        for c in app_containers(docker_client, suite.suite, app_id, all_states=False)
        if c.labels["crane.service"] == "web"
    ]
    assert {c.id for c in still} == {c.id for c in web}
    assert [b["status"] for b in user.get(f"/apps/{app_id}/builds").json()] == ["succeeded", "failed"]

    assert user.delete(f"/apps/{app_id}").status_code == 202
    wait_gone(user, app_id)
    built = docker_client.images.list(filters={"label": [f"crane.suite={suite.suite}", f"crane.app={app_id}"]})
    assert built == [], "the app's images outlived it"


def _symlink_tar(target: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("site")
        link.type, link.linkname = tarfile.SYMTYPE, target
        archive.addfile(link)
    return buffer.getvalue()


def test_hostile_contexts_are_refused_naming_the_part(suite, user, http_image):
    compose = COMPOSE.replace("IMAGE", http_image)
    hostile = {
        "dot-dot": context_tar({"../escape": "x"}),
        "absolute": context_tar({"/etc/cron.d/evil": "x"}),
        "symlink": _symlink_tar("/etc"),
        "not a tar": b"definitely not a tar archive",
    }
    for name, archive in hostile.items():
        refused = upload(user, "POST", "/apps", compose, {"web": archive})
        assert refused.status_code == 422, (name, refused.text)
        assert refused.json()["detail"][0]["loc"] == ["body", "build.web"], (name, refused.text)
    # A gzip bomb: 80 MB of zeros in 80 kB, over the 64 MB limit, stops while unpacking.
    bomb = context_tar({"Dockerfile": "FROM scratch\n", "zeros": b"\0" * (80 * 1024 * 1024)}, compress=True)
    assert len(bomb) < 1024 * 1024
    too_big = upload(user, "POST", "/apps", compose, {"web": bomb})
    assert too_big.status_code == 413 and "build.web" in too_big.text, too_big.text
    missing = user.post("/apps", content=compose, headers={"Content-Type": "application/yaml"})
    assert missing.status_code == 422 and "build.web" in missing.text, missing.text
    stray = upload(user, "POST", "/apps", compose, {"web": web_context(http_image), "nope": web_context(http_image)})
    assert stray.status_code == 422 and "build.nope" in stray.text, stray.text
    assert [a for a in user.get("/apps").json() if a["name"] == "built"] == []


def test_a_deployer_killed_during_a_build_builds_again_after_restart_without_duplicates(
    suite, user, docker_client, http_image
):
    slow = (
        f'FROM {http_image}\nSHELL ["/bin/busybox", "sh", "-c"]\n'
        "RUN /bin/busybox printf 'run-step-%s\\n' began && /bin/busybox sleep 8 && /bin/busybox mkdir -p /site\n"
        "COPY site/ /site/\n"
    )
    compose = 'name: slowbuild\nservices:\n  web:\n    build: ./web\n    ports: ["8080"]\n    deploy: {replicas: 2}\n'
    created = upload(user, "POST", "/apps", compose, {"web": web_context(http_image, dockerfile=slow)})
    assert created.status_code == 202, created.text
    app_id = created.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        builds = user.get(f"/apps/{app_id}/builds").json()
        if builds and builds[-1]["status"] == "running":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the build never started")
    # The RUN step has begun (its own output, not the step's echo, reached build.progress).
    wait_events(
        user,
        app_id,
        lambda events: any(
            "run-step-began" in line for e in events if e["type"] == "build.progress" for line in e["data"]["lines"]
        ),
        timeout=60,
    )
    suite.procs["deployer"].kill()
    suite.start_service("deployer")
    app = wait_app(user, app_id, lambda a: a["status"] == "running" and a["running_replicas"] == 2, timeout=180)
    replicas = app_containers(docker_client, suite.suite, app_id)
    assert sorted(int(c.labels["crane.replica"]) for c in replicas) == [0, 1], "one container per slot"
    builds = user.get(f"/apps/{app_id}/builds").json()
    assert [b["status"] for b in builds] == ["failed", "succeeded"], builds
    assert builds[0]["error"].startswith("interrupted") and app["status"] == "running"
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)
    assert docker_client.images.list(filters={"label": [f"crane.suite={suite.suite}", f"crane.app={app_id}"]}) == []


def test_an_uploaded_folder_fills_the_volume_its_bind_mount_becomes(suite, user, docker_client, http_image):
    compose = "name: seeded\nservices:\n  web:\n    image: IMAGE\n    volumes: ['./site:/site']\n".replace(
        "IMAGE", http_image
    )
    files = {
        "compose": ("compose.yaml", compose, "application/yaml"),
        "bind.site": (
            "site.tar",
            context_tar({"index.html": "from the laptop\n", "css/a.css": "b{}"}),
            "application/x-tar",
        ),
    }
    created = user.post("/apps?wait=true", files=files)
    assert created.status_code == 200 and created.json()["status"] == "running", created.text
    app_id = created.json()["id"]
    (web,) = app_containers(docker_client, suite.suite, app_id, all_states=False)
    code, output = web.exec_run(["/bin/busybox", "cat", "/site/index.html", "/site/css/a.css"])
    assert code == 0 and output.decode() == "from the laptop\nb{}", output
    # The volume's data is the app's from then on: a replacement replica finds what was written.
    web.exec_run(["/bin/busybox", "sh", "-c", "echo changed > /site/index.html"])
    assert user.post(f"/apps/{app_id}/restart").status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fresh = app_containers(docker_client, suite.suite, app_id, all_states=False)
        if fresh and fresh[0].id != web.id and fresh[0].status == "running":
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the restart never replaced the replica")  # (the old one holds "changed")
    code, output = fresh[0].exec_run(["/bin/busybox", "cat", "/site/index.html"])
    assert output.decode() == "changed\n", output
    hostile = {**files, "bind.site": ("site.tar", context_tar({"../../etc/x": "x"}), "application/x-tar")}
    refused = user.post("/apps", files=hostile)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "bind.site"], refused.text
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)
