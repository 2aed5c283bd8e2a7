"""The compose demo brought up as a user does (`make up`, on ports and a suite name of its own)
and taken down again (`make down`), which must leave nothing of the suite behind."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import docker

from tests.harness.procs import REPO, free_port


def compose_demo(docker_client: docker.DockerClient) -> Iterator[dict[str, str]]:
    suite = f"cranedemo{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "CRANE_SUITE": suite,
        "CRANE_API_PORT": str(free_port()),
        "CRANE_HTTP_PORT": str(free_port()),
        "CRANE_DASHBOARD_PORT": str(free_port()),
        "CRANE_NATS_PORT": str(free_port()),
        "CRANE_PROMETHEUS_PORT": str(free_port()),
        "CRANE_ALERTMANAGER_PORT": str(free_port()),
    }
    up = subprocess.run(["make", "up"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    try:
        assert up.returncode == 0, f"make up failed:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}"
        assert "CRANE is up." in up.stdout and f"http://localhost:{env['CRANE_API_PORT']}/docs" in up.stdout
        yield env
    finally:
        down = subprocess.run(["make", "down"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        print(down.stdout[-2000:], down.stderr[-2000:])
        left = {
            "containers": docker_client.containers.list(all=True, filters={"label": f"crane.suite={suite}"}),
            "compose": docker_client.containers.list(
                all=True, filters={"label": f"com.docker.compose.project={suite}"}
            ),
            "networks": docker_client.networks.list(filters={"label": f"crane.suite={suite}"}),
        }
        assert down.returncode == 0 and not any(left.values()), f"make down left {left}"
        assert not (REPO / "deploy/.secrets" / suite).exists(), "make down left the suite's NATS credentials"
