"""One end-to-end path through the compose demo, exactly as a user runs it: `make up`,
register, deploy 3 replicas through the REST gateway and one app through NATS, reach them
through the suite's Traefik, then `make down` leaves nothing of the suite behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import httpx
import nats
import pytest

from tests.e2e.demo import compose_demo
from tests.harness.procs import REPO
from tests.harness.suite import wait_distinct_backends
from tests.samples import SCALING_INPUT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(docker_client):
    yield from compose_demo(docker_client)


def test_compose_demo_deploys_through_rest_and_nats(demo, http_image):
    api = httpx.Client(base_url=f"http://127.0.0.1:{demo['CRANE_API_PORT']}/api/v1", timeout=60)
    credentials = {"email": "ada@example.com", "password": "correct-horse"}
    assert api.post("/auth/register", json={**credentials, "full_name": "Ada"}).status_code == 201
    token = api.post("/auth/login", json=credentials).json()["access_token"]
    api.headers["Authorization"] = f"Bearer {token}"

    body = {"name": "hello", "replicas": 3, "services": [{"name": "web", "image": http_image, "ports": ["8080"]}]}
    app = api.post("/apps?wait=true", json=body).json()
    assert app["status"] == "running" and app["running_replicas"] == 3, app
    scan = api.get(f"/apps/{app['id']}/scan").json()  # Trivy ran inside the deployer's container
    assert scan["status"] == "allowed" and scan["images"][0]["scanner"].startswith("trivy "), scan
    port = int(demo["CRANE_HTTP_PORT"])
    assert len(wait_distinct_backends(port, f"{app['id']}.localhost", 3)) == 3
    # The lab's load goes from the API's container through the router to the app's replicas.
    assert api.post(f"/apps/{app['id']}/lab/load", json={"rate": 10, "seconds": 1}).status_code == 202
    deadline = time.monotonic() + 20
    while (load := api.get(f"/apps/{app['id']}/lab/load").json())["running"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert load["sent"] == 10 and load["ok"] == 10, load

    # A compose file is read by the Docker Compose the suite's image ships (env_file merged).
    compose = f"services:\n  web:\n    image: {http_image}\n    ports: ['8080']\n    env_file: [web.env]\n"
    uploaded = api.post(
        "/apps?name=filed", files={"compose": ("compose.yaml", compose), "env_file.web.env": ("web.env", "MODE=demo\n")}
    )
    assert uploaded.status_code == 202, uploaded.text
    assert api.get(f"/apps/{uploaded.json()['id']}").json()["spec"]["services"][0]["environment"] == {"MODE": "demo"}

    # NATS requires credentials: anonymous connections are refused, the client user (whose
    # password `make up` generated) may send client.* intents with an API token.
    anonymous = subprocess.run(
        [sys.executable, "-c", f"import asyncio, nats; asyncio.run(nats.connect('nats://127.0.0.1:{demo['CRANE_NATS_PORT']}', allow_reconnect=False))"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert anonymous.returncode != 0 and "uthorization" in anonymous.stderr, anonymous.stderr[-500:]
    client_password = (REPO / "deploy/.secrets" / demo["CRANE_SUITE"] / "client.password").read_text().strip()

    async def publish() -> None:
        nc = await nats.connect(f"nats://127.0.0.1:{demo['CRANE_NATS_PORT']}", user="client", password=client_password)
        spec = {**body, "name": "bus", "replicas": 1}
        await nc.jetstream().publish(
            "client.app.created", json.dumps({"data": {"spec": spec}}).encode(), headers={"Crane-Token": token}
        )
        await nc.close()

    asyncio.run(publish())
    deadline = time.monotonic() + 60
    via_bus: list = []
    while time.monotonic() < deadline:
        via_bus = [a for a in api.get("/apps").json() if a["name"] == "bus" and a["status"] == "running"]
        if via_bus:
            break
        time.sleep(0.5)
    assert via_bus, "the app published on NATS did not come up"
    assert wait_distinct_backends(port, f"{via_bus[0]['id']}.localhost", 1)

    # Monitoring came up with the suite: Prometheus loaded the app's rules and scrapes Traefik.
    prometheus = f"http://127.0.0.1:{demo['CRANE_PROMETHEUS_PORT']}"
    deadline = time.monotonic() + 60
    groups: list = []
    while time.monotonic() < deadline and f"crane-app-{app['id']}" not in groups:
        with contextlib.suppress(httpx.HTTPError):
            groups = [g["name"] for g in httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]]
        time.sleep(1)
    assert f"crane-app-{app['id']}" in groups, groups
    assert httpx.get(f"http://127.0.0.1:{demo['CRANE_ALERTMANAGER_PORT']}/-/ready").status_code == 200
    # Registering first made ada no admin: `make up` made the admin account, with a generated
    # password. The policy service (Rego in the suite's image) answers the admin.
    assert api.get("/users").status_code == 403
    admin_password = (REPO / "deploy/.secrets" / demo["CRANE_SUITE"] / "admin.password").read_text().strip()
    admin_login = api.post("/auth/login", json={"email": "admin@example.com", "password": admin_password})
    assert admin_login.status_code == 200, admin_login.text
    admin_headers = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}
    dry_run = api.post("/policies/dry-run", json={"input": SCALING_INPUT}, headers=admin_headers)
    assert dry_run.status_code == 200 and dry_run.json()["decision"]["desired"] == 6, dry_run.text
    # The crane command `make up` put in the venv, against the demo: logs (read by the deployer's
    # container, sent over the suite's NATS) and the event stream of the app.
    cli_env = {
        **os.environ,
        "XDG_CONFIG_HOME": tempfile.mkdtemp(),
        "CRANE_API": str(api.base_url).removesuffix("/api/v1/"),
    }
    crane = [str(Path(sys.executable).with_name("crane"))]
    login = subprocess.run([*crane, "login", "--email", "ada@example.com", "--password-stdin"], env=cli_env,
                           input="correct-horse\n", capture_output=True, text=True, timeout=60)  # fmt: skip
    assert login.returncode == 0, login.stderr
    logs = subprocess.run([*crane, "logs", app["id"], "--tail", "5", "-o", "json"], env=cli_env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert logs.returncode == 0 and {json.loads(x)["service"] for x in logs.stdout.splitlines()} == {"web"}, logs
    events = subprocess.run([*crane, "events", app["id"], "--since", "600", "-o", "json"], env=cli_env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    kinds = [json.loads(x)["type"] for x in events.stdout.splitlines()]
    assert events.returncode == 0 and kinds[:2] == ["policy.admission", "app.created"] and "app.deployed" in kinds, (
        events
    )

    # The API and the apps' port listen on this machine only (CRANE_BIND opens them).
    ports = {
        c.labels.get("com.docker.compose.service"): c.attrs["HostConfig"]["PortBindings"]
        for c in docker.from_env().containers.list(
            filters={"label": f"com.docker.compose.project={demo['CRANE_SUITE']}"}
        )
    }
    assert ports["api"]["8000/tcp"][0]["HostIp"] == "127.0.0.1", ports["api"]
    assert ports["traefik"]["80/tcp"][0]["HostIp"] == "127.0.0.1", ports["traefik"]

    client = docker.from_env()
    replicas = client.containers.list(
        filters={"label": [f"crane.suite={demo['CRANE_SUITE']}", f"crane.app={app['id']}"]}
    )
    host_config = replicas[0].attrs["HostConfig"]
    # The README's default limits of a replica whose spec sets none: 0.5 CPU, 256 MiB, 256 pids.
    assert (host_config["NanoCpus"], host_config["Memory"], host_config["PidsLimit"]) == (
        500_000_000,
        256 * 1024 * 1024,
        256,
    ), host_config
    assert "no-new-privileges:true" in host_config["SecurityOpt"] and host_config["CapDrop"] == ["ALL"]

    # Isolation: an app's container reaches nothing of the suite's and no other app's
    # container; the router answers it only on the apps' port. The host still has the
    # dashboard, and Prometheus still scrapes Traefik over the suite's own network.
    suite_containers = {
        c.labels.get("com.docker.compose.service"): c
        for c in client.containers.list(filters={"label": f"com.docker.compose.project={demo['CRANE_SUITE']}"})
    }
    other = client.containers.list(
        filters={"label": [f"crane.suite={demo['CRANE_SUITE']}", f"crane.app={via_bus[0]['id']}"]}
    )[0]
    prober = replicas[0]
    traefik = suite_containers["traefik"]
    traefik.reload()
    own_network = next(iter(prober.attrs["NetworkSettings"]["Networks"]))
    router_on_app_network = traefik.attrs["NetworkSettings"]["Networks"][own_network]["IPAddress"]
    assert _probe(prober, router_on_app_network, 80)  # the apps' entrypoint: the public path anyway
    targets = [(router_on_app_network, 8080, "Traefik's API and dashboard")]
    crane_ports = [(name, 9100) for name in ("api", "deployer", "policy", "monitor-config", "alert-bridge")]
    probed = [("traefik", 8080), ("prometheus", 9090), ("alertmanager", 9093), ("nats", 8222), ("api", 8000)]
    for name, port in [*probed, *crane_ports, ("alert-bridge", 9095)]:
        for network in suite_containers[name].attrs["NetworkSettings"]["Networks"].values():
            targets.append((network["IPAddress"], port, name))
    for network in other.attrs["NetworkSettings"]["Networks"].values():
        targets.append((network["IPAddress"], 8080, "another app's replica"))
    reached = [what for address, port, what in targets if _probe(prober, address, port)]
    assert not reached, f"an app's container reached {reached}"
    dashboard = httpx.get(f"http://127.0.0.1:{demo['CRANE_DASHBOARD_PORT']}/api/rawdata", timeout=10)
    assert dashboard.status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError, IndexError):
            up = httpx.get(f"{prometheus}/api/v1/query", params={"query": 'up{job="traefik"}'}).json()
            if up["data"]["result"][0]["value"][1] == "1":
                break
        time.sleep(1)
    else:
        raise AssertionError("Prometheus does not scrape Traefik")
    # The control of the probes above: every CRANE service's metrics port answers the suite's own
    # Prometheus (so the app's refusals were the network's, not closed ports).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError):
            up = httpx.get(f"{prometheus}/api/v1/query", params={"query": 'up{job="crane"} == 1'}).json()
            if len(up["data"]["result"]) == len(crane_ports):
                break
        time.sleep(1)
    else:
        raise AssertionError("Prometheus does not scrape every CRANE service")


def _probe(container, address: str, port: int) -> bool:
    """Whether ``container`` can open a TCP connection to address:port within 3 s."""
    probe = ["/bin/busybox", "timeout", "3", "/bin/sh", "-c", f"/bin/busybox nc {address} {port} </dev/null"]
    return container.exec_run(probe).exit_code == 0
