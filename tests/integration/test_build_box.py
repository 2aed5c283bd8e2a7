"""Builds in a box: no network unless the service asks (and the policy lets it), CPU and memory
limits on every step, a wall-clock limit that ends a build whatever it prints, and at most N
builds of one owner at once, none of them on a reconcile worker: one tenant's endless builds
hold up nobody else's deploy or healing."""

from __future__ import annotations

import time

import pytest

from tests.conftest import app_body, make_user, running_suite
from tests.harness.suite import LocalSuite
from tests.integration.helpers import app_containers, remove_every_app, running, wait_app, wait_gone
from tests.integration.test_builds import context_tar, upload

TIME_LIMIT = 8
MEMORY = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def boxed(docker_client):
    deployer = {
        "CRANE_BUILD_TIMEOUT_SECONDS": str(TIME_LIMIT),
        "CRANE_BUILD_MEMORY": str(MEMORY),
        "CRANE_BUILD_CPUS": "0.5",
        "CRANE_BUILDS_PER_OWNER": "2",
    }
    yield from running_suite(LocalSuite(with_monitoring=False, service_env={"deployer": deployer}))


def _build_app(client, name: str, dockerfile: str, build: str = "./web"):
    compose = f"name: {name}\nservices:\n  web:\n    build: {build}\n    ports: ['8080']\n"
    created = upload(client, "POST", "/apps", compose, {"web": context_tar({"Dockerfile": dockerfile}, compress=True)})
    assert created.status_code == 202, created.text
    return created.json()["id"]


def _shell(image: str, *steps: str) -> str:
    return f'FROM {image}\nSHELL ["/bin/busybox", "sh", "-c"]\n' + "".join(f"RUN {step}\n" for step in steps)


def test_a_build_step_has_no_network_and_the_boxs_limits(boxed, docker_client, http_image):
    tenant = make_user(boxed, "builder")
    probe = _shell(
        http_image,
        "/bin/busybox cat /proc/net/dev",
        "/bin/busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; true",
        "/bin/busybox cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null; true",
    )
    try:
        plain = _build_app(tenant, "boxed", probe)
        wait_app(tenant, plain, running(1), timeout=120)
        log = tenant.get(f"/apps/{plain}/builds").json()[-1]["log"]
        assert "lo:" in log and "eth0" not in log, log  # no network: only the loopback
        assert str(MEMORY) in log, log
        assert "50000" in log, log  # half a CPU: 50 ms of every 100 ms
        # Asked for (Compose's build.network), a build has the Engine's default network.
        # (another first step: the Engine's build cache does not tell networks apart)
        probe = probe.replace(
            "RUN /bin/busybox cat /proc/net/dev", "RUN echo netted\nRUN /bin/busybox cat /proc/net/dev"
        )
        networked = _build_app(tenant, "netted", probe, build="{context: ./web, network: default}")
        wait_app(tenant, networked, running(1), timeout=120)
        assert "eth0" in tenant.get(f"/apps/{networked}/builds").json()[-1]["log"]
        refused = upload(
            tenant,
            "POST",
            "/apps",
            "name: hosted\nservices:\n  web:\n    build: {context: ./web, network: host}\n",
            {"web": context_tar({"Dockerfile": probe}, compress=True)},
        )
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "services", "web", "build", "network"], refused.text
    finally:
        for app in tenant.get("/apps").json():
            tenant.delete(f"/apps/{app['id']}")
            wait_gone(tenant, app["id"])
        tenant.close()


def _deploy_and_heal(client, docker_client, suite, name: str, image: str) -> tuple[float, float]:
    """Seconds from a POST to a running replica, and from its kill to its replacement."""
    before = time.monotonic()
    created = client.post("/apps?wait=true&timeout=60", json=app_body(image, name))
    assert created.status_code == 200 and created.json()["status"] == "running", created.text
    deployed = time.monotonic() - before
    app_id = created.json()["id"]
    (replica,) = app_containers(docker_client, suite.suite, app_id, all_states=False)
    killed = time.monotonic()
    replica.kill()
    while time.monotonic() < killed + 30:
        if [c for c in app_containers(docker_client, suite.suite, app_id, all_states=False) if c.id != replica.id]:
            return deployed, time.monotonic() - killed
        time.sleep(0.1)
    raise AssertionError(f"{app_id}'s replica was not replaced")


def test_endless_builds_of_one_tenant_hold_up_nobody_else(boxed, docker_client, http_image):
    attacker, neighbour = make_user(boxed, "spammer"), make_user(boxed, "neighbour")
    endless = _shell(http_image, "while true; do echo spam spam spam; done")
    try:
        # The neighbour's usual times, on this machine, now (its image scanned once here).
        usual = _deploy_and_heal(neighbour, docker_client, boxed, "before", http_image)
        started = time.monotonic()
        spam = [_build_app(attacker, f"spam{i}", endless) for i in range(4)]
        time.sleep(1)
        during = _deploy_and_heal(neighbour, docker_client, boxed, "during", http_image)
        print(
            f"deploy {usual[0]:.2f} s alone, {during[0]:.2f} s beside 4 endless builds; "
            f"heal {usual[1]:.2f} s alone, {during[1]:.2f} s beside them"
        )
        # Before, the builds held the reconcile workers: the deploy never came (it waited for ever).
        for alone, beside in zip(usual, during, strict=True):
            assert beside <= max(3 * alone, alone + 3), (usual, during)
        # No more than two of the attacker's builds ran at once, and each was ended at its limit.
        most_running = 0
        while time.monotonic() < started + 4 * TIME_LIMIT + 60:
            builds = [b for app in spam for b in attacker.get(f"/apps/{app}/builds").json()]
            most_running = max(most_running, sum(b["status"] == "running" for b in builds))
            states = [attacker.get(f"/apps/{app}").json()["status"] for app in spam]
            if all(state == "failed" for state in states):
                break
            time.sleep(0.5)
        assert 1 <= most_running <= 2, most_running
        for app in spam:
            reason = attacker.get(f"/apps/{app}").json()["reason"]
            assert "time limit" in reason, reason
            (build,) = attacker.get(f"/apps/{app}/builds").json()
            assert build["status"] == "failed" and len(build["log"]) <= 64 * 1024
        deadline = time.monotonic() + 10  # the Engine removes a cut build's step container
        while spinning := [
            c for c in docker_client.containers.list() if "spam spam" in " ".join(c.attrs["Config"]["Cmd"] or [])
        ]:
            assert time.monotonic() < deadline, f"a build step outlived its build: {spinning}"
            time.sleep(0.2)
    finally:
        remove_every_app(attacker, neighbour)
        for client in (attacker, neighbour):
            client.close()
