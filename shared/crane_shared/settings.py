"""Settings every service shares, read from CRANE_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from .users import User


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRANE_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    # This service's own NATS user; the password comes from a file (compose secrets) or the
    # environment. Without a user, no credentials are sent (a NATS without authentication).
    nats_user: str | None = None
    nats_password_file: Path | None = None
    nats_password: SecretStr | None = None
    # One engine can host several suites (tests do); every name and label carries this.
    suite: str = "crane"
    # Apps are reachable at http://<app-id>.<app_domain>:<http_port>/ through Traefik.
    app_domain: str = "localhost"
    http_port: int = 80
    log_level: str = "INFO"
    # Where this service serves its own Prometheus metrics (each container has its own port
    # space in the compose demo; tests give every process another port).
    metrics_port: int = 9100
    # Window of rate() in the scaling queries: several scrape intervals (CRANE scrapes every 0.5 s).
    rate_window: str = "4s"
    # Applied to every replica whose spec sets no resources (and counted so against quotas).
    default_cpus: float = 0.5
    default_memory: str = "256m"
    # Build contexts (multipart uploads): unpacked size and file count of one context at most.
    max_context_bytes: int = 64 * 1024 * 1024
    max_context_files: int = 10_000
    # What one user's uploads may take, and (each) their built images, unless their quota says.
    storage_quota_mb: int = 2048

    def storage_quota_bytes(self, user: User | None) -> int:
        """A user's storage quota in bytes: their own, else the suite's."""
        own = user.quota.storage_mb if user is not None and user.quota is not None else None
        return (self.storage_quota_mb if own is None else own) * 1024 * 1024

    def nats_credentials(self) -> tuple[str, str] | None:
        if not self.nats_user:
            return None
        if self.nats_password_file:
            return self.nats_user, self.nats_password_file.read_text().strip()
        if self.nats_password:
            return self.nats_user, self.nats_password.get_secret_value()
        raise ValueError(f"CRANE_NATS_USER={self.nats_user} needs CRANE_NATS_PASSWORD_FILE or CRANE_NATS_PASSWORD")

    def app_url(self, app_id: str) -> str:
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{app_id}.{self.app_domain}{port}/"
