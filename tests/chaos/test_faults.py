"""Faults, measured. A burst of deploys runs while one part of the suite is killed (SIGKILL) and
restarted: every accepted request must end as an app with exactly its desired replicas, no
duplicate replica, no container without an app, no event missing. Each run prints (and appends
to CRANE_CHAOS_REPORT) what was sent, accepted, refused, lost, and how long recovery took.

`make test` runs a short burst against each service and NATS; `make chaos` runs longer bursts
and restarts the Docker daemon too (it stops every container on the machine, so not in CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import nats
import pytest

from tests.conftest import app_body, running_suite
from tests.harness.api import ApiClient, register_and_login
from tests.harness.procs import REPO, wait_for
from tests.harness.suite import LocalSuite
from tests.integration.helpers import suite_containers

APPS = int(os.environ.get("CRANE_CHAOS_APPS", "6"))
REPORT = Path(os.environ.get("CRANE_CHAOS_REPORT", "/tmp/crane-chaos-report.jsonl"))
RECOVERY_TIMEOUT = 120
RETRIED = {"ConnectError", 503}  # certainly not accepted: a client sends these again
# What a request cut off by a kill may end in (it may have been accepted: not sent again). Any
# other answer (a 500, a 4xx) is a failure, not a refusal.
CUT_OFF = {"ReadTimeout", "RemoteProtocolError", "ReadError", "WriteError", "ConnectError", 503}


@pytest.fixture(scope="module")
def chaos_suite(docker_client) -> Iterator[LocalSuite]:
    yield from running_suite(LocalSuite(resync_seconds=15))


@pytest.fixture(scope="module")
def owner(chaos_suite) -> ApiClient:
    """The suite's first user (an admin), with a quota that fits the longest burst."""
    client = register_and_login(chaos_suite.api_url, "chaos")
    quota = {"replicas": 1000, "cpus": 1000, "memory_mb": 1_000_000, "networks": 1000}
    assert client.patch(f"/users/{client.email}", json={"quota": quota}).status_code == 200
    return client


@dataclass
class Burst:
    sent: int = 0
    accepted: dict[str, int] = field(default_factory=dict)  # app id -> replicas asked for
    refused: Counter = field(default_factory=Counter)  # status code or error -> count
    slowest: float = 0.0  # seconds, the longest any request took to be answered
    retries: Counter = field(default_factory=Counter)  # why requests were sent again
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The second half of the burst waits for this (the fault), so that it lands during the burst.
    halfway: threading.Event = field(default_factory=threading.Event)
    sent_after_fault: int = 0


def run_burst(suite: LocalSuite, token: str, image: str, prefix: str, count: int, burst: Burst) -> None:
    """``count`` creates from 3 client threads, as a careful client sends them: a request that
    certainly did nothing (connection refused, or 503: the API says nothing changed) is sent
    again after half a second; one cut off mid-way is not (it may have been accepted)."""

    def create(i: int) -> None:
        body = app_body(image, f"{prefix}{i}", replicas=1 + i % 3)
        if i >= count // 2:
            assert burst.halfway.wait(120), "the fault never came"
        with burst.lock:
            burst.sent += 1
            burst.sent_after_fault += i >= count // 2
        deadline = time.monotonic() + 60
        while True:
            started = time.monotonic()
            try:
                response = httpx.post(
                    f"{suite.api_url}/api/v1/apps", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
                )
                outcome: int | str = response.status_code
            except httpx.HTTPError as exc:
                response, outcome = None, type(exc).__name__
            with burst.lock:
                burst.slowest = max(burst.slowest, time.monotonic() - started)
                if response is not None and response.status_code == 202:
                    burst.accepted[response.json()["id"]] = body["replicas"]
                    return
                if outcome in RETRIED and time.monotonic() < deadline:
                    burst.retries[outcome] += 1
                else:
                    burst.refused[outcome] += 1
                    return
            time.sleep(0.5)

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(create, range(count)))


def kill(suite: LocalSuite, target: str) -> None:
    """SIGKILL ``target`` (a service or nats; "none": the baseline, the same burst with no fault)."""
    if target != "none":
        suite.procs[target].kill()


def start_again(suite: LocalSuite, target: str) -> None:
    """Start a killed ``target`` again as it was, a second after its kill."""
    if target == "none":
        return
    time.sleep(1.0)
    if target == "nats":
        suite.start_nats()
    else:
        suite.start_service(target)
        if target == "api":
            suite.wait_api()


def replicas_by_app(client: docker.DockerClient, suite: str) -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = {}
    for c in suite_containers(client, suite):
        if "crane.app" in c.labels and "crane.replica" in c.labels:
            found.setdefault(c.labels["crane.app"], []).append((int(c.labels["crane.replica"]), c.status))
    return found


def converged(api: httpx.Client, client: docker.DockerClient, suite: str) -> tuple[bool, dict]:
    """Every app of the owner running with exactly its replicas (slots 0..n-1, all running), and
    no container of the suite without an app."""
    apps = {a["id"]: a for a in api.get("/apps").json()}
    containers = replicas_by_app(client, suite)
    problems = {}
    for app_id, app in apps.items():
        want = app["desired_replicas"]
        have = sorted(containers.get(app_id, []))
        if app["status"] != "running" or have != [(i, "running") for i in range(want)]:
            problems[app_id] = {"status": app["status"], "want": want, "have": have}
    orphans = sorted(set(containers) - set(apps))
    if orphans:
        problems["orphans"] = orphans
    return not problems, problems


def events_by_app(suite: LocalSuite, subjects: tuple[str, ...]) -> dict[str, Counter]:
    async def read() -> dict[str, Counter]:
        nc = await nats.connect(suite.nats_url)
        counts: dict[str, Counter] = {}
        for subject in subjects:
            sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    break
                app_id = json.loads(msg.data)["data"].get("app_id")
                counts.setdefault(subject, Counter())[app_id] += 1
            await sub.unsubscribe()
        await nc.close()
        return counts

    return asyncio.run(read())


def record(figures: dict) -> None:
    line = json.dumps(figures)
    print("\nCHAOS " + line)
    with REPORT.open("a") as out:
        out.write(line + "\n")


def settle_and_check(
    suite: LocalSuite, api: ApiClient, client: docker.DockerClient, burst: Burst, since: float
) -> float:
    """Seconds from ``since`` until the suite converged; asserts nothing accepted was lost."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    ok, problems = False, {}
    while time.monotonic() < deadline:
        try:
            ok, problems = converged(api, client, suite.suite)
        except httpx.HTTPError as exc:
            problems = {"api": repr(exc)}
        if ok:
            break
        time.sleep(0.25)
    recovery = time.monotonic() - since
    known = {a["id"] for a in api.get("/apps").json()}
    lost = sorted(set(burst.accepted) - known)
    assert not lost, f"accepted but lost: {lost}"
    assert ok, f"not converged after {RECOVERY_TIMEOUT}s: {problems}\n{suite.logs()}"
    return recovery


def remove_all(api: ApiClient, client: docker.DockerClient, suite: str) -> None:
    for app in api.get("/apps").json():
        api.delete(f"/apps/{app['id']}")
    wait_for(lambda: not api.get("/apps").json() and not replicas_by_app(client, suite), 60, "apps removed")


@pytest.mark.parametrize("target", ["none", "deployer", "api", "policy", "monitor-config", "alert-bridge", "nats"])
def test_a_killed_part_loses_nothing_during_a_deploy_burst(target, chaos_suite, owner, http_image, docker_client):
    token = owner.headers["Authorization"].removeprefix("Bearer ")
    burst = Burst()
    with ThreadPoolExecutor(1) as background:
        sender = background.submit(run_burst, chaos_suite, token, http_image, f"c{target[:3]}", APPS, burst)
        wait_for(lambda: len(burst.accepted) >= 2 or sender.done(), 60, "the first accepted deploys")
        killed_at = time.monotonic()
        kill(chaos_suite, target)
        burst.halfway.set()  # the second half of the burst is sent while the part is down
        start_again(chaos_suite, target)
        back_at = time.monotonic()
        sender.result(timeout=120)  # the sender's own failure (not only the suite's) fails the test
    answered_at = time.monotonic()
    # Every request was answered: accepted, or cut off by the fault in a way the client was told
    # about. A 500 or a 4xx is neither. The baseline refuses nothing.
    assert burst.sent == APPS and len(burst.accepted) + sum(burst.refused.values()) == APPS, burst
    assert set(burst.refused) <= CUT_OFF, f"answers that are no refusal: {burst.refused}"
    assert burst.sent_after_fault == APPS - APPS // 2, burst  # half the burst came during the fault
    assert len(burst.accepted) == APPS if target == "none" else len(burst.accepted) >= APPS // 2, burst
    recovery = settle_and_check(chaos_suite, owner, docker_client, burst, back_at)

    events = events_by_app(chaos_suite, ("app.created", "app.deployed"))
    created, deployed = events.get("app.created", Counter()), events.get("app.deployed", Counter())
    mine = set(burst.accepted)
    assert all(created[a] == 1 for a in mine), f"app.created not exactly once: { {a: created[a] for a in mine} }"
    assert all(deployed[a] >= 1 for a in mine), f"app.deployed missing: {[a for a in mine if not deployed[a]]}"
    assert chaos_suite.stopped_processes() == [], chaos_suite.logs()
    record(
        {
            "fault": f"SIGKILL {target}" if target != "none" else "none (baseline)",
            "sent": burst.sent,
            "accepted": len(burst.accepted),
            "retried": {str(k): v for k, v in burst.retries.items()},
            "refused": {str(k): v for k, v in burst.refused.items()},
            "lost": 0,
            "replicas": sum(burst.accepted.values()),
            "down_s": round(back_at - killed_at, 2),
            "slowest_request_s": round(burst.slowest, 2),
            "last_answer_after_restart_s": round(answered_at - back_at, 2),
            "recovery_s": round(recovery, 2),
        }
    )
    remove_all(owner, docker_client, chaos_suite.suite)


def restart_docker_daemon() -> None:
    """Stop dockerd (which stops every container) and start it again the way `make docker` does."""
    if (
        shutil.which("systemctl")
        and subprocess.run(["systemctl", "is-system-running"], capture_output=True).returncode == 0
    ):
        subprocess.run(["systemctl", "restart", "docker"], check=True)
        return
    subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=False)
    wait_for(
        lambda: subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode != 0, 60, "dockerd to stop"
    )
    subprocess.run(["bash", str(REPO / "scripts/ensure-docker.sh")], check=True)


@pytest.mark.chaos
def test_docker_daemon_restart_is_reconciled(chaos_suite, owner, http_image):
    ids = {}
    for i in range(3):
        created = owner.post("/apps", json=app_body(http_image, f"daemon{i}", replicas=2))
        ids[created.json()["id"]] = 2
    engine = docker.from_env()
    wait_for(lambda: converged(owner, engine, chaos_suite.suite)[0], 60, "apps running before the restart")
    started = time.monotonic()
    restart_docker_daemon()
    back_at = time.monotonic()
    engine = docker.from_env()
    burst = Burst(sent=3, accepted=ids)
    recovery = settle_and_check(chaos_suite, owner, engine, burst, back_at)
    record(
        {
            "fault": "Docker daemon restart",
            "apps": 3,
            "replicas": 6,
            "lost": 0,
            "daemon_down_s": round(back_at - started, 2),
            "recovery_s": round(recovery, 2),
        }
    )
    remove_all(owner, engine, chaos_suite.suite)


def test_an_app_accepted_survives_nats_killed_right_after_the_answer(chaos_suite, owner, http_image, docker_client):
    """NATS fsyncs each write before acknowledging it (sync_interval: always, visible in its
    /varz), so the 202 means the app is on disk: SIGKILL NATS right after the answer, start it
    again, and the app is there and comes up."""
    varz = httpx.get(f"http://127.0.0.1:{chaos_suite.nats_monitor_port}/varz", timeout=10).json()
    assert varz["jetstream"]["config"]["sync_always"] is True, varz["jetstream"]["config"]
    created = owner.post("/apps", json=app_body(http_image, "durable", replicas=2))
    assert created.status_code == 202, created.text
    chaos_suite.procs["nats"].kill()  # right after the answer
    chaos_suite.start_nats()
    app_id = created.json()["id"]
    wait_for(
        lambda: (app := owner.get(f"/apps/{app_id}")).status_code == 200 and app.json()["running_replicas"] == 2,
        RECOVERY_TIMEOUT,
        "the accepted app running after NATS was killed",
    )
    remove_all(owner, docker_client, chaos_suite.suite)
