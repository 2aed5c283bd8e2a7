"""API settings (CRANE_* environment variables)."""

from pathlib import Path

from crane_shared.build_context import ContextLimits
from crane_shared.settings import CommonSettings

from .requests import UploadRules


class ApiSettings(CommonSettings):
    api_host: str = "0.0.0.0"
    api_port: int = 8000
    # This email is the admin, and it can never be registered again once it was (a stranger
    # would be admin after the account's deletion). With a password file too (what `make up`
    # does), the API creates that account on start and nobody registers it; without one, its
    # first registration in the suite's life makes it admin. With neither, the
    # first registered user is admin (an API on loopback only: tests, a developer's machine).
    admin_email: str | None = None
    admin_password_file: Path | None = None
    token_ttl_minutes: int = 24 * 60
    # Login attempts for one email from one address within the window (login_limit.py).
    login_max_failures: int = 5
    login_window_seconds: float = 300.0
    # Live streams one user may hold open at once (shares.py): followed logs, event streams.
    log_streams_per_user: int = 6
    event_streams_per_user: int = 6
    # Upper bound for ?wait=true on POST /apps.
    max_wait_seconds: float = 120.0
    # Docker Compose v2, which reads uploaded compose files (default: found on PATH, beside
    # this Python, or among the Docker CLI's plugins).
    compose_binary: str | None = None
    # One upload (a multipart request) at most, all parts together; each part has its own cap.
    max_upload_bytes: int = 256 * 1024 * 1024
    # Where uploaded archives wait while their request lasts: a folder on disk (the compose
    # demo gives it a volume), never the API's memory or a tmpfs. Default: the temporary folder.
    upload_spool_dir: Path | None = None
    # The key NATS's auth callout trusts (`make up` writes it): with it, users connect to NATS
    # with their API token and watch their own view of the events (nats_watchers.py).
    nats_callout_seed_file: Path | None = None
    # How long NATS admits a token's connection before it asks the API again (the client
    # reconnects by itself): a revoked token, a deleted user or a changed role loses its view
    # of the events within this time.
    nats_view_lease_seconds: float = 120.0
    # The web console's built assets (default: console/dist of this checkout or image); the API
    # serves them at / when they are there.
    console_dir: Path | None = None
    # Where the app metrics the console charts are read (GET /apps/{id}/metrics).
    prometheus_url: str | None = None

    # Where the lab sends its loads: the router's HTTP entrypoint as this API reaches it (default:
    # http://127.0.0.1:<http_port>); the app's host name goes in each request's Host header.
    router_url: str | None = None

    @property
    def lab_target(self) -> str:
        return self.router_url or f"http://127.0.0.1:{self.http_port}"

    def app_host(self, app_id: str) -> str:
        return f"{app_id}.{self.app_domain}"

    @property
    def upload_rules(self) -> UploadRules:
        return UploadRules(
            ContextLimits(self.max_context_bytes, self.max_context_files),
            self.compose_binary,
            self.max_upload_bytes,
            self.upload_spool_dir,
        )
