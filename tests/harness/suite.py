"""A whole CRANE suite as local processes: NATS (JetStream, file storage), Traefik with its
Docker provider, the five services. Used by the integration tests and the benchmarks.

Everything it creates carries the suite's unique name; ``remove_docker_objects`` deletes
exactly the objects with that label and nothing else on the Engine.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx

from crane_shared.nats_auth import CALLOUT_SEED_FILE, CLIENT_USER, ensure_credentials

from .procs import Proc, binary, free_port, port_open, python_module, wait_for

SERVICES = {
    "api": "crane_api",
    "deployer": "crane_deployer",
    "monitor-config": "crane_monitor_config",
    "alert-bridge": "crane_alert_bridge",
    "policy": "crane_policy",
}


TEST_NATS_USER = "tester"
TRIVY_CACHE = Path(tempfile.gettempdir()) / "crane-test-trivy-cache"


def unique_suite_name(prefix: str = "cranetest") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass
class LocalSuite:
    suite: str = field(default_factory=unique_suite_name)
    resync_seconds: float = 5.0
    with_traefik: bool = True
    with_monitoring: bool = True
    services: tuple[str, ...] = tuple(SERVICES)
    # Prometheus/Alertmanager timings (CRANE's defaults unless a benchmark compares others).
    timings: dict[str, str] = field(default_factory=dict)
    # Settings of one service (its CRANE_* variables), e.g. a deployer with short build limits.
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="crane-suite-")))

    def __post_init__(self) -> None:
        self.nats_port = free_port()
        self.nats_monitor_port = free_port()
        self.api_port = free_port()
        self.http_port = free_port()
        self.dashboard_port = free_port()
        self.prometheus_port = free_port()
        self.alertmanager_port = free_port()
        self.bridge_port = free_port()
        self.metrics_ports = {name: free_port() for name in SERVICES}
        self.monitoring_dir = self.workdir / "monitoring"
        self.procs: dict[str, Proc] = {}
        # NATS with authentication, as in the compose demo: a user per service, the client user
        # of direct publishers, and (tests only) an unrestricted user to inspect and inject.
        self.secrets_dir = self.workdir / "secrets"
        self.nats_passwords = ensure_credentials(self.secrets_dir, unrestricted=(TEST_NATS_USER,))

    def nats_url_as(self, user: str) -> str:
        return f"nats://{user}:{self.nats_passwords[user]}@127.0.0.1:{self.nats_port}"

    @property
    def nats_url(self) -> str:
        """As the unrestricted test user: tests read every stream and inject what they like."""
        return self.nats_url_as(TEST_NATS_USER)

    @property
    def client_nats_url(self) -> str:
        """As the client user, like anyone who publishes straight to NATS."""
        return self.nats_url_as(CLIENT_USER)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        return {
            "CRANE_NATS_URL": f"nats://127.0.0.1:{self.nats_port}",
            "CRANE_SUITE": self.suite,
            "CRANE_API_HOST": "127.0.0.1",
            "CRANE_API_PORT": str(self.api_port),
            "CRANE_HTTP_PORT": str(self.http_port),
            "CRANE_RESYNC_SECONDS": str(self.resync_seconds),
            # Small limits: tests run many replicas on a 2-core machine.
            "CRANE_DEFAULT_CPUS": "0.25",
            "CRANE_DEFAULT_MEMORY": "64m",
            "CRANE_MONITORING_DIR": str(self.monitoring_dir),
            "CRANE_PROMETHEUS_URL": f"http://127.0.0.1:{self.prometheus_port}",
            "CRANE_ALERTMANAGER_URL": f"http://127.0.0.1:{self.alertmanager_port}",
            "CRANE_ALERTMANAGER_TARGET": f"127.0.0.1:{self.alertmanager_port}",
            "CRANE_TRAEFIK_METRICS_TARGET": f"127.0.0.1:{self.dashboard_port}",
            "CRANE_EXPORTER_TARGET": f"127.0.0.1:{self.metrics_ports['deployer']}",
            "CRANE_SERVICE_METRICS_TARGETS": ",".join(f"127.0.0.1:{p}" for p in self.metrics_ports.values()),
            "CRANE_ALERT_BRIDGE_URL": f"http://127.0.0.1:{self.bridge_port}/alerts",
            "CRANE_BRIDGE_HOST": "127.0.0.1",
            "CRANE_BRIDGE_PORT": str(self.bridge_port),
            # Trivy's layer cache is shared by test runs; its vulnerability database is not
            # fetched (nothing can be downloaded here, and tests must not depend on it).
            "CRANE_TRIVY_CACHE_DIR": str(TRIVY_CACHE),
            "CRANE_TRIVY_UPDATE_DB": "false",
            **{f"CRANE_{k.upper()}": v for k, v in self.timings.items()},
        }

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    # --- parts ---------------------------------------------------------------------------
    def start_nats(self) -> None:
        store = self.workdir / "jetstream"
        argv = [
            binary("nats-server"), "-c", str(self.secrets_dir / "nats.conf"),
            "-js", "-a", "127.0.0.1", "-p", str(self.nats_port), "-sd", str(store),
            "-m", str(self.nats_monitor_port),
        ]  # fmt: skip
        self.procs["nats"] = Proc("nats", argv, self.workdir).start()
        wait_for(lambda: port_open(self.nats_port), 15, "nats-server")

    def start_traefik(self) -> None:
        argv = [
            binary("traefik"),
            f"--entrypoints.web.address=127.0.0.1:{self.http_port}",
            f"--entrypoints.traefik.address=127.0.0.1:{self.dashboard_port}",
            "--api.dashboard=true",
            "--api.insecure=true",
            "--ping=true",
            "--metrics.prometheus=true",
            "--providers.docker=true",
            "--providers.providersThrottleDuration=200ms",
            "--providers.docker.exposedbydefault=false",
            f"--providers.docker.constraints=Label(`crane.suite`,`{self.suite}`)",
            "--global.checknewversion=false",
            "--global.sendanonymoususage=false",
            "--log.level=INFO",
        ]
        self.procs["traefik"] = Proc("traefik", argv, self.workdir).start()
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{self.dashboard_port}/ping").status_code == 200, 20, "traefik")

    def start_service(self, name: str, extra_env: dict[str, str] | None = None, key: str | None = None) -> Proc:
        """Start service ``name`` (again); ``key`` names a second instance, e.g. "api-2"."""
        key = key or name
        env = {
            **self.env(),
            "CRANE_METRICS_PORT": str(self.metrics_ports[name]),
            "CRANE_NATS_USER": name,
            "CRANE_NATS_PASSWORD_FILE": str(self.secrets_dir / f"{name}.password"),
            **({"CRANE_NATS_CALLOUT_SEED_FILE": str(self.secrets_dir / CALLOUT_SEED_FILE)} if name == "api" else {}),
            **self.service_env.get(name, {}),
            **(extra_env or {}),
        }
        proc = Proc(key, python_module(SERVICES[name]), self.workdir, env).start()
        self.procs[key] = proc
        return proc

    def wait_api(self) -> None:
        wait_for(lambda: httpx.get(f"{self.api_url}/health").status_code == 200, 30, "api")

    def start_monitoring(self) -> None:
        """Prometheus and Alertmanager from Debian's packages, on the files monitor-config wrote."""
        config = self.monitoring_dir / "prometheus.yml"
        wait_for(lambda: config.exists() and (self.monitoring_dir / "alertmanager.yml").exists(), 30, "monitor-config")
        self.procs["prometheus"] = Proc(
            "prometheus",
            [
                "/usr/bin/prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                "--web.enable-lifecycle",
                # Firing alerts are sent again every second (default 1m): one lost while the
                # notifier re-discovers Alertmanager after a rules reload costs 1 s, not a minute.
                f"--rules.alert.resend-delay={self.timings.get('alert_resend_delay', '1s')}",
            ],
            self.workdir,
        ).start()
        self.procs["alertmanager"] = Proc(
            "alertmanager",
            [
                "/usr/bin/prometheus-alertmanager",
                f"--config.file={self.monitoring_dir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
                "--cluster.listen-address=",
            ],
            self.workdir,
        ).start()
        for port, what in ((self.prometheus_port, "prometheus"), (self.alertmanager_port, "alertmanager")):
            wait_for(lambda p=port: httpx.get(f"http://127.0.0.1:{p}/-/ready").status_code == 200, 30, what)

    def start(self) -> LocalSuite:
        self.start_nats()
        if self.with_traefik:
            self.start_traefik()
        for name in self.services:
            self.start_service(name)
        if self.with_monitoring and "monitor-config" in self.services:
            self.start_monitoring()
        if "api" in self.services:
            self.wait_api()
        return self

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            self.procs[name].stop()
        self.remove_docker_objects()

    def remove_docker_objects(self) -> None:
        """Remove containers, networks, volumes and built images labelled with this suite, and
        nothing else."""
        client = docker.from_env()
        label = {"label": f"crane.suite={self.suite}"}
        for container in client.containers.list(all=True, filters=label):
            container.remove(force=True)
        for network in client.networks.list(filters=label):
            network.remove()
        for volume in client.volumes.list(filters=label):
            volume.remove(force=True)
        for image in client.images.list(filters=label):  # built by CRANE for this suite's apps
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(image.id, force=True)
        client.close()

    def stopped_processes(self) -> list[str]:
        """Processes of the suite that are no longer running (none, unless one crashed)."""
        return [name for name, proc in self.procs.items() if not proc.running]

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{proc.log_tail()}" for name, proc in self.procs.items())

    # --- helpers for tests -----------------------------------------------------------------
    def get_through_router(self, host: str, path: str = "/", timeout: float = 2) -> httpx.Response:
        return get_through_router(self.http_port, host, path, timeout)

    def wait_distinct_backends(self, host: str, count: int, timeout: float = 60) -> set[str]:
        return wait_distinct_backends(self.http_port, host, count, timeout)


def get_through_router(port: int, host: str, path: str = "/", timeout: float = 2) -> httpx.Response:
    """GET via a Traefik on loopback with the app's Host header."""
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}, timeout=timeout)


def wait_distinct_backends(port: int, host: str, count: int, timeout: float = 60, tries: int = 60) -> set[str]:
    """Ask through the router on ``port`` until ``count`` different replicas have answered
    (each test replica answers with its hostname)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _ in range(tries):
            try:
                response = get_through_router(port, host)
            except httpx.HTTPError:
                break
            if response.status_code == 200:
                seen.add(response.text.strip())
            if len(seen) >= count:
                return seen
        time.sleep(0.1)
    raise TimeoutError(f"only {len(seen)} of {count} replicas answered through the router: {seen}")
