"""A three-service stack built from source, CRANE beside `docker compose up --build`, measured
side by side in one run.

    python bench/stack_build.py [--trials 3]

The stack: web (3 replicas, built from an uploaded context FROM the local demo image), api, and
db (a named volume and a secret). Each trial gets a context with new content, so both sides
really build (the Engine's layer cache serves the base image to both alike).
  1. CRANE: multipart POST /apps -> the app running and 3 web replicas answering through Traefik.
  2. Compose: `docker compose up -d --build` of the same files -> every container running and
     each web replica answering on its published port.
  3. Unchanged context: PATCH with the same files packed again -> running again with no build.
With --cli, CRANE's side is the `crane up` command run in the same project folder (packing,
upload, following it until running), and the unchanged case is `crane up` again.
Prints every sample, medians, and the CRANE/compose ratio (goal: within 1.3x; the unchanged
context under 2 s with no build).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "shared"), str(REPO / "deploy")]

import docker  # noqa: E402
import httpx  # noqa: E402
from measures import print_table  # noqa: E402

from tests.harness.api import register_and_login  # noqa: E402
from tests.harness.images import build_http_image, remove_image  # noqa: E402
from tests.harness.procs import binary  # noqa: E402
from tests.harness.suite import LocalSuite, wait_distinct_backends  # noqa: E402

COMPOSE = """name: {name}
services:
  web:
    build: ./web
    ports: ["8080"]
    deploy: {{replicas: 3}}
  api:
    image: {image}
    expose: ["8080"]
  db:
    image: {image}
    volumes: ["data:/data"]
    secrets: [db_password]
volumes:
  data: {{}}
secrets:
  db_password: {{file: ./db_password.txt}}
"""


def context_files(image: str, nonce: str) -> dict[str, str]:
    return {"Dockerfile": f"FROM {image}\nCOPY site /site\n", "site/version.txt": nonce}


def pack(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), time.time()
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload(api: httpx.Client, method: str, path: str, compose: str, context: bytes) -> httpx.Response:
    files = {
        "compose": ("compose.yaml", compose, "application/yaml"),
        "build.web": ("web.tgz", context, "application/gzip"),
        "secret.db_password": ("db_password.txt", "bench-secret", "text/plain"),
    }
    response = api.request(method, path, files=files)
    response.raise_for_status()
    return response


def wait_running(api: httpx.Client, app_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app = api.get(f"/apps/{app_id}").json()
        if app["status"] == "running" and app["running_replicas"] >= app["desired_replicas"]:
            return
        if app["status"] == "failed":
            raise RuntimeError(app["reason"])
        time.sleep(0.05)
    raise TimeoutError(f"{app_id} did not run")


def crane_trial(suite: LocalSuite, api: httpx.Client, image: str, nonce: str) -> tuple[float, float, str]:
    compose = COMPOSE.format(name="stack", image=image)
    files = context_files(image, nonce)
    started = time.perf_counter()
    app_id = upload(api, "POST", "/apps", compose, pack(files)).json()["id"]
    wait_running(api, app_id)
    wait_distinct_backends(suite.http_port, f"{app_id}.localhost", 3, timeout=120, tries=10)
    built = time.perf_counter() - started
    builds = len(api.get(f"/apps/{app_id}/builds").json())
    started = time.perf_counter()
    upload(api, "PATCH", f"/apps/{app_id}", compose, pack(files))  # the same files, packed again
    wait_running(api, app_id)
    wait_distinct_backends(suite.http_port, f"{app_id}.localhost", 3, timeout=120, tries=10)
    unchanged = time.perf_counter() - started
    if len(api.get(f"/apps/{app_id}/builds").json()) != builds:
        raise RuntimeError("an unchanged context was built again")
    return built, unchanged, app_id


def write_project(project: Path, image: str, nonce: str, name: str) -> None:
    for file, text in context_files(image, nonce).items():
        (project / "web" / file).parent.mkdir(parents=True, exist_ok=True)
        (project / "web" / file).write_text(text)
    (project / "db_password.txt").write_text("bench-secret")
    (project / "compose.yaml").write_text(COMPOSE.format(name=name, image=image))


def cli_trial(
    suite: LocalSuite, api: httpx.Client, env: dict[str, str], image: str, nonce: str
) -> tuple[float, float, str]:
    """`crane up` in a project folder, then `crane up` again with nothing changed."""
    crane = str(Path(sys.executable).with_name("crane"))
    with tempfile.TemporaryDirectory() as tmp:
        write_project(Path(tmp), image, nonce, "stack")
        times = []
        for _ in range(2):
            started = time.perf_counter()
            subprocess.run([crane, "up"], cwd=tmp, env=env, check=True, capture_output=True)
            app_id = next(a["id"] for a in api.get("/apps").json() if a["name"] == "stack")
            wait_distinct_backends(suite.http_port, f"{app_id}.localhost", 3, timeout=120, tries=10)
            times.append(time.perf_counter() - started)
    if len(api.get(f"/apps/{app_id}/builds").json()) != 1:
        raise RuntimeError("crane up with nothing changed built again")
    return times[0], times[1], app_id


def compose_trial(image: str, nonce: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        name = f"benchstack{uuid.uuid4().hex[:6]}"
        write_project(project, image, nonce, name)
        compose = [binary("docker-compose"), "--project-directory", str(project), "-f", str(project / "compose.yaml")]
        started = time.perf_counter()
        subprocess.run([*compose, "up", "-d", "--build"], check=True, capture_output=True, env=os.environ)
        try:
            client = docker.from_env()
            webs = client.containers.list(
                filters={"label": [f"com.docker.compose.project={name}", "com.docker.compose.service=web"]}
            )
            ports = [int(c.ports["8080/tcp"][0]["HostPort"]) for c in webs]
            for port in ports:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"web on port {port} did not answer")
                    time.sleep(0.02)
            return time.perf_counter() - started
        finally:
            subprocess.run([*compose, "down", "-v", "--rmi", "local"], capture_output=True)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--no-scan", action="store_true", help="turn CRANE's image scanning off (compose scans nothing)"
    )
    parser.add_argument("--cli", action="store_true", help="deploy with the crane command instead of the API")
    args = parser.parse_args()
    tag = f"crane-bench-http:{uuid.uuid4().hex[:6]}"
    image = build_http_image(tag, {"crane.test": "bench"})
    samples: dict[str, list[float]] = {"crane": [], "compose": [], "unchanged": []}
    # LocalSuite passes its `timings` on as CRANE_<NAME> settings.
    suite = LocalSuite(resync_seconds=15, timings={"scan_images": "false"} if args.no_scan else {}).start()
    try:
        api = register_and_login(suite.api_url, "bench")
        env = {**os.environ, "XDG_CONFIG_HOME": tempfile.mkdtemp(), "CRANE_API": suite.api_url}
        login = [str(Path(sys.executable).with_name("crane")), "login", "--email", api.email, "--password-stdin"]
        subprocess.run(login, input=b"correct-horse-battery\n", env=env, check=True, capture_output=True)
        for trial in range(1, args.trials + 1):
            if args.cli:
                crane_s, unchanged_s, app_id = cli_trial(suite, api, env, image, uuid.uuid4().hex)
            else:
                crane_s, unchanged_s, app_id = crane_trial(suite, api, image, uuid.uuid4().hex)
            compose_s = compose_trial(image, uuid.uuid4().hex)
            for key, value in zip(samples, (crane_s, compose_s, unchanged_s), strict=True):
                samples[key].append(value)
            print(
                f"trial {trial}: crane (build, 3+1+1) {crane_s:.2f}s  compose up --build {compose_s:.2f}s  "
                f"crane unchanged context {unchanged_s:.2f}s",
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
        "crane": "crane up (build) -> serving" if args.cli else "POST (build) -> stack serving",
        "compose": "compose up --build -> serving",
        "unchanged": "crane up, unchanged -> serving" if args.cli else "PATCH, unchanged -> serving",
    }
    print_table(labels, samples)
    ratio = statistics.median(samples["crane"]) / statistics.median(samples["compose"])
    scanning = "off" if args.no_scan else "on (Trivy scans each new image)"
    print(f"\nCRANE / compose up --build (medians): {ratio:.2f}x over {args.trials} trials, scanning {scanning}")


if __name__ == "__main__":
    main()
