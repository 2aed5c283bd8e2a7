"""Hundreds of apps on one engine, side by side in one run: a burst of single-replica apps
created through CRANE against the same containers under `docker compose up` (one project per
app), then what the suite costs while they sit idle, then deleting them all.

    python bench/many_apps.py [--apps 250] [--users 13] [--parallel 8] [--idle-seconds 30]

1. Compose: --apps projects (one service, the demo image, its own network, as CRANE makes
   them), `docker compose up -d` run --parallel at a time, until every container answers on
   its address; then `docker compose down` of them all, as many at a time.
2. CRANE: --users users POST --apps apps in a burst (--parallel requests at a time), until
   every app answers through Traefik by its host name.
3. Idle: the whole machine's cores busy (/proc/stat) over --idle-seconds with every app
   running (--settle seconds after the last one answered), beside the same containers under
   compose (what the engine alone costs), and the memory of the suite's own processes (services, NATS, Traefik,
   Prometheus, Alertmanager).
4. Delete: DELETE of every app, until no container or network of theirs is left.

Prints each phase's time, the ratios (CRANE / compose), and the goals of issue 21.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ipaddress
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import docker  # noqa: E402
import httpx  # noqa: E402

from tests.harness.api import register_and_login  # noqa: E402
from tests.harness.images import build_http_image, remove_image  # noqa: E402
from tests.harness.procs import binary  # noqa: E402
from tests.harness.suite import LocalSuite  # noqa: E402

BENCH_LABEL = "crane.bench"
POLL_SECONDS = 1.0
COMPOSE_POOL = "10.213.0.0/16"  # beside CRANE's default 10.203.0.0/16


def progress(what: str, done: int, total: int, started: float) -> None:
    print(f"  {what}: {done}/{total} after {time.perf_counter() - started:.1f}s", flush=True)


def until_all(what: str, items: Iterable[str], answers: Callable[[str], bool], started: float, timeout: float) -> float:
    """Poll every item until each ``answers``; the time since ``started`` when the last did."""
    waiting = set(items)
    total = len(waiting)
    deadline = time.monotonic() + timeout
    last_report = time.monotonic()
    done_at = started
    while waiting:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {len(waiting)} of {total} still not answering after {timeout:.0f}s")
        round_began = time.monotonic()
        for item in list(waiting):
            if answers(item):
                waiting.discard(item)
                done_at = time.perf_counter()
        if time.monotonic() - last_report > 10:
            progress(what, total - len(waiting), total, started)
            last_report = time.monotonic()
        if waiting:  # each waiting item is asked at most once a second: the asking costs CPU too
            time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - round_began)))
    return done_at - started


def answers(url: str, host: str | None = None) -> bool:
    try:
        return httpx.get(url, headers={"Host": host} if host else None, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def in_parallel(work: Callable[[int], object], count: int, parallel: int) -> list[object]:
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(work, range(count)))


# --- Docker Compose, one project per app -------------------------------------------------------
def compose_phase(
    image: str, apps: int, parallel: int, run: str, settle: float, idle_seconds: float
) -> tuple[float, float, float]:
    """(seconds until every project's container answers, seconds to bring them all down, the
    machine's cores busy while they idle)."""
    client = docker.from_env()
    folder = Path(tempfile.mkdtemp(prefix="crane-bench-compose-"))
    compose_file = folder / "compose.yaml"
    compose_file.write_text(
        "services:\n"
        "  web:\n"
        f"    image: {image}\n"
        f"    labels: {{{BENCH_LABEL}: {run}}}\n"
        "    cpus: 0.25\n"
        "    mem_limit: 64m\n"
        "networks:\n  default:\n"
        f"    labels: {{{BENCH_LABEL}: {run}}}\n"
        # As CRANE gives each app's network a /25 of its own pool: Docker's default pools end
        # after about 30 networks.
        "    ipam: {config: [{subnet: $SUBNET}]}\n"
    )
    projects = [f"{run}c{n}" for n in range(apps)]
    subnets = list(ipaddress.ip_network(COMPOSE_POOL).subnets(new_prefix=25))[:apps]

    def compose(n: int, *args: str) -> None:
        argv = [binary("docker-compose"), "-p", projects[n], "-f", str(compose_file), *args]
        env = {**os.environ, "SUBNET": str(subnets[n])}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
        if done.returncode:
            raise RuntimeError(f"docker compose {' '.join(args)} of {projects[n]} failed: {done.stderr.strip()}")

    def address(project: str) -> str | None:
        found = client.containers.list(filters={"label": f"com.docker.compose.project={project}"})
        networks = found[0].attrs["NetworkSettings"]["Networks"] if found else {}
        return next((n["IPAddress"] for n in networks.values() if n.get("IPAddress")), None)

    try:
        started = time.perf_counter()
        in_parallel(lambda n: compose(n, "up", "-d", "--quiet-pull"), apps, parallel)
        print(f"  compose up: all {apps} projects up after {time.perf_counter() - started:.1f}s", flush=True)
        addresses = {project: address(project) for project in projects}
        up = until_all(
            "compose answering",
            projects,
            lambda p: addresses[p] is not None and answers(f"http://{addresses[p]}:8080/"),
            started,
            600,
        )
        time.sleep(settle)
        floor = machine_busy(idle_seconds)  # what the same containers cost the machine, no CRANE
        started = time.perf_counter()
        in_parallel(lambda n: compose(n, "down", "--timeout", "1"), apps, parallel)
        down = time.perf_counter() - started
        return up, down, floor
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{BENCH_LABEL}={run}"}):
            container.remove(force=True)
        for network in client.networks.list(filters={"label": f"{BENCH_LABEL}={run}"}):
            network.remove()
        client.close()


# --- CRANE -----------------------------------------------------------------------------------
def suite_processes(suite: LocalSuite) -> list[int]:
    return [proc.popen.pid for proc in suite.procs.values() if proc.popen is not None and proc.running]


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/status").read_text().split("\n")
        except FileNotFoundError:
            continue
        total += next(int(line.split()[1]) for line in fields if line.startswith("VmRSS:"))
    return total / 1024


def machine_busy(seconds: float) -> float:
    """The whole machine's cores busy over ``seconds`` (all but idle and iowait, from /proc/stat)."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / (total1 - total0) * os.cpu_count()  # type: ignore[operator]


def crane_phase(suite: LocalSuite, image: str, args: argparse.Namespace) -> dict[str, float]:
    users = [register_and_login(suite.api_url, f"many{n}") for n in range(args.users)]
    service = {"name": "web", "image": image, "ports": ["8080"]}
    client = docker.from_env()

    def create(n: int) -> str:
        created = users[n % len(users)].post("/apps", json={"name": f"app{n}", "services": [service]}, timeout=120)
        if created.status_code != 202:
            raise SystemExit(f"app {n} refused: {created.status_code} {created.text}")
        return str(created.json()["id"])

    started = time.perf_counter()
    ids = [str(i) for i in in_parallel(create, args.apps, args.parallel)]
    print(f"  CRANE: {args.apps} apps accepted after {time.perf_counter() - started:.1f}s", flush=True)
    router = f"http://127.0.0.1:{suite.http_port}/"
    up = until_all("CRANE answering", ids, lambda i: answers(router, f"{i}.localhost"), started, 1800)

    time.sleep(args.settle)  # the burst's tail: reloads, the deployer's first resync
    memory = rss_mb(suite_processes(suite))
    busy = machine_busy(args.idle_seconds)
    owners = {app_id: users[n % len(users)] for n, app_id in enumerate(ids)}

    def delete(n: int) -> None:
        owners[ids[n]].delete(f"/apps/{ids[n]}", timeout=120).raise_for_status()

    started = time.perf_counter()
    in_parallel(delete, args.apps, args.parallel)
    label = {"label": f"crane.suite={suite.suite}"}
    deadline = time.monotonic() + 1800
    while client.api.containers(all=True, filters=label) or client.api.networks(filters=label):
        if time.monotonic() > deadline:
            raise TimeoutError("apps still have containers or networks 1800 s after their DELETE")
        time.sleep(0.5)
    deleted = time.perf_counter() - started
    client.close()
    return {"up": up, "memory": memory, "busy": busy, "delete": deleted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=250)
    parser.add_argument("--users", type=int, default=13)
    parser.add_argument("--parallel", type=int, default=8, help="requests (or compose runs) at a time")
    parser.add_argument("--idle-seconds", type=float, default=30)
    # Traefik's Docker provider lists and inspects every container on each start: after a burst
    # of N starts it works through N x N inspects for about 25 s (250 apps, 2 cores).
    parser.add_argument("--settle", type=float, default=60, help="seconds after the last app answers before idling")
    parser.add_argument("--skip-compose", action="store_true")
    args = parser.parse_args()
    run = f"many{uuid.uuid4().hex[:6]}"
    image = build_http_image(f"crane-bench-many:{run}", {"crane.test": "bench"})
    try:
        print(f"==> docker compose: {args.apps} projects, {args.parallel} at a time", flush=True)
        compose_up, compose_down, floor = (
            (0.0, 0.0, 0.0)
            if args.skip_compose
            else compose_phase(image, args.apps, args.parallel, run, args.settle, args.idle_seconds)
        )
        print(f"==> CRANE: {args.apps} apps from {args.users} users, {args.parallel} requests at a time", flush=True)
        suite = LocalSuite(resync_seconds=15).start()  # the deployer's default resync
        try:
            empty = machine_busy(10)
            crane = crane_phase(suite, image, args)
        finally:
            suite.stop()
    finally:
        remove_image(image)
    print(f"\n{args.apps} single-replica apps, {args.users} users, {args.parallel} at a time, {os.cpu_count()} cores")
    report(
        [
            ("burst created -> all serving", crane["up"], compose_up, "goal <= 1.2x"),
            ("delete all -> nothing left", crane["delete"], compose_down, "goal <= 60 s"),
        ]
    )
    print(
        f"{'machine cores busy, all apps idle':<44}{crane['busy']:>10.3f}{floor:>10.3f}"
        f"  (goal <= 0.25; the empty suite: {empty:.3f})"
    )
    print(f"{'suite memory (RSS of its processes)':<44}{crane['memory']:>8.0f}MB  (goal <= 600 MB)")


def report(rows: list[tuple[str, float, float, str]]) -> None:
    print(f"{'measure':<44}{'CRANE':>10}{'compose':>10}{'ratio':>8}")
    for label, crane, compose, goal in rows:
        ratio = f"{crane / compose:>7.2f}x" if compose else f"{'-':>8}"
        print(f"{label:<44}{crane:>9.1f}s{compose:>9.1f}s{ratio}  ({goal})")


if __name__ == "__main__":
    main()
