"""Deploy and healing latency, measured side by side in one run.

    python bench/deploy_latency.py [--trials 5]

For each trial, on a fresh local suite (NATS, Traefik, the services as processes, the real
Docker Engine):
  1. CRANE deploy: POST /apps with 3 replicas -> all 3 replicas answering through Traefik.
  2. Compose deploy: `docker compose up -d` of the same app's exported file -> all 3 answering
     through the exported file's own Traefik.
  3. Healing: `docker kill` of one replica -> a replacement answering through Traefik.
Prints every sample, then median and p95 per measure, and the CRANE/compose ratio.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "shared"), str(REPO / "deploy")]

import docker  # noqa: E402
import httpx  # noqa: E402
from measures import print_table  # noqa: E402

from crane_images import local_traefik_image  # noqa: E402
from tests.harness.api import register_and_login  # noqa: E402
from tests.harness.images import build_http_image, remove_image  # noqa: E402
from tests.harness.procs import binary, free_port  # noqa: E402
from tests.harness.suite import LocalSuite, get_through_router, wait_distinct_backends  # noqa: E402


def crane_deploy(suite: LocalSuite, api: httpx.Client, image: str) -> tuple[float, str]:
    body = {"name": "bench", "replicas": 3, "services": [{"name": "web", "image": image, "ports": ["8080"]}]}
    started = time.perf_counter()
    app_id = api.post("/apps", json=body).json()["id"]
    wait_distinct_backends(suite.http_port, f"{app_id}.localhost", 3, timeout=120, tries=10)
    return time.perf_counter() - started, app_id


def compose_deploy(api: httpx.Client, app_id: str, traefik_image: str) -> float:
    deadline = time.monotonic() + 30
    while (exported := api.get(f"/apps/{app_id}/compose")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    with tempfile.TemporaryDirectory() as tmp:
        compose_file = Path(tmp) / "docker-compose.yml"
        compose_file.write_text(exported.text)
        port = free_port()
        project = f"benchexport{uuid.uuid4().hex[:6]}"
        env = {**os.environ, "CRANE_TRAEFIK_IMAGE": traefik_image, "CRANE_HTTP_PORT": str(port)}
        compose = [binary("docker-compose"), "-p", project, "-f", str(compose_file)]
        started = time.perf_counter()
        subprocess.run([*compose, "up", "-d"], check=True, env=env, capture_output=True)
        try:
            wait_distinct_backends(port, f"{app_id}.localhost", 3, timeout=120, tries=10)
            return time.perf_counter() - started
        finally:
            subprocess.run([*compose, "down", "-v"], env=env, capture_output=True)


def heal(suite: LocalSuite, app_id: str) -> float:
    client = docker.from_env()
    filters = {"label": [f"crane.suite={suite.suite}", f"crane.app={app_id}"]}
    victim = client.containers.list(filters=filters)[0]
    survivors = {c.attrs["Config"]["Hostname"] for c in client.containers.list(filters=filters)} - {
        victim.attrs["Config"]["Hostname"]
    }
    started = time.perf_counter()
    victim.kill()
    while time.perf_counter() - started < 60:
        try:
            response = get_through_router(suite.http_port, f"{app_id}.localhost", timeout=1)
            answer = response.text.strip()
            if response.status_code == 200 and answer not in survivors and answer != victim.attrs["Config"]["Hostname"]:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError("no replacement answered within 60 s")


def main() -> None:
    # A benchmark stopped with SIGTERM still removes what it started (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    client = docker.from_env()
    tag = f"crane-bench-http:{uuid.uuid4().hex[:6]}"
    image = build_http_image(tag, {"crane.test": "bench"})
    traefik_image = local_traefik_image(client)
    samples: dict[str, list[float]] = {"crane_deploy": [], "compose_up": [], "heal": []}
    suite = LocalSuite(resync_seconds=15).start()
    try:
        api = register_and_login(suite.api_url, "bench")
        for trial in range(1, args.trials + 1):
            deploy_s, app_id = crane_deploy(suite, api, image)
            compose_s = compose_deploy(api, app_id, traefik_image)
            heal_s = heal(suite, app_id)
            for key, value in zip(samples, (deploy_s, compose_s, heal_s), strict=True):
                samples[key].append(value)
            print(
                f"trial {trial}: crane deploy {deploy_s:.2f}s  compose up {compose_s:.2f}s  "
                f"kill->replacement {heal_s:.2f}s",
                flush=True,
            )
            api.delete(f"/apps/{app_id}")
            while api.get(f"/apps/{app_id}").status_code != 404:
                time.sleep(0.2)
    finally:
        suite.stop()
        remove_image(tag)
    print()
    labels = {
        "crane_deploy": "POST /apps (3) -> 3 answering",
        "compose_up": "compose up (export) -> 3 answering",
        "heal": "docker kill -> replacement answers",
    }
    print_table(labels, samples)
    ratio = statistics.median(samples["crane_deploy"]) / statistics.median(samples["compose_up"])
    print(f"\nCRANE deploy / compose up (medians): {ratio:.2f}x  over {args.trials} trials")


if __name__ == "__main__":
    main()
