"""API settings (CRANE_* environment variables)."""

from crane_shared.build_context import ContextLimits
from crane_shared.settings import CommonSettings


class ApiSettings(CommonSettings):
    api_host: str = "0.0.0.0"
    api_port: int = 8000
    # This email becomes admin on registration; otherwise the first registered user does.
    admin_email: str | None = None
    token_ttl_minutes: int = 24 * 60
    # After this many wrong passwords for one email within the window, logins answer 429.
    login_max_failures: int = 5
    login_window_seconds: float = 300.0
    # Upper bound for ?wait=true on POST /apps.
    max_wait_seconds: float = 120.0

    @property
    def context_limits(self) -> ContextLimits:
        return ContextLimits(self.max_context_bytes, self.max_context_files)
