"""Where live decisions are made: an OPA server given the admin's current policies, or the
embedded engine running them on a time budget with the shipped policies as fallback."""

from __future__ import annotations

from crane_shared.policies import Policies

from .engines import OpaServer, PolicyEngine
from .guarded import GuardedRego
from .policy_store import default_policies


class Engines:
    def __init__(self, policies: Policies, opa_url: str | None, budget_seconds: float) -> None:
        self.policies = policies
        self.budget_seconds = budget_seconds
        self._opa = OpaServer(opa_url) if opa_url else None
        self._pushed: dict[str, str] | None = None  # the policies OPA has
        self._embedded: GuardedRego | None = None

    async def current(self) -> PolicyEngine:
        """The engine with the admin's policies as they are now."""
        modules = await self.policies.modules()
        if self._opa:
            if self._pushed != modules:
                await self._opa.push(modules, previous=self._pushed or {})
                self._pushed = modules
            return self._opa
        if self._embedded is None or self._embedded.modules != modules:
            if self._embedded is not None:
                await self._embedded.close()
            self._embedded = GuardedRego(modules, default_policies(), self.budget_seconds)
        return self._embedded
