"""Policy settings (CRANE_* environment variables)."""

from crane_shared.settings import CommonSettings


class PolicySettings(CommonSettings):
    prometheus_url: str = "http://127.0.0.1:9090"
    # When set, policies are evaluated by this OPA server instead of the embedded engine.
    opa_url: str | None = None
    # How long the admin's policies may take on one live decision before the shipped policy
    # decides instead (guarded.py).
    policy_budget_seconds: float = 1.0
    # How often apps with a firing load alert are evaluated again (keeps converging).
    reevaluate_seconds: float = 1.0
