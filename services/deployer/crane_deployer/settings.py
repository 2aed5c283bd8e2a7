"""Deployer settings (CRANE_* environment variables)."""

from crane_shared.settings import CommonSettings

from .container_spec import Limits


class DeployerSettings(CommonSettings):
    default_pids: int = 256
    # Full reconcile of every app (drift, and what was missed while the deployer was down).
    resync_seconds: float = 15.0
    workers: int = 4
    # How often CPU and memory of every replica are sampled for /metrics.
    stats_seconds: float = 2.0

    @property
    def limits(self) -> Limits:
        return Limits(cpus=self.default_cpus, memory=self.default_memory, pids=self.default_pids)
