"""Settings every service shares, read from CRANE_* environment variables."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRANE_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
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

    def app_url(self, app_id: str) -> str:
        port = "" if self.http_port == 80 else f":{self.http_port}"
        return f"http://{app_id}.{self.app_domain}{port}/"
