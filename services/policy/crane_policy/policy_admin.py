"""Policy management for admins, through the API: compile a policy set with a new source,
evaluate a policy for an input (a dry run), and give back the source CRANE ships. Compiles and
dry runs run in a sandboxed child process (sandbox.py), never in the live engine."""

from __future__ import annotations

from crane_shared.policies import NAME_PATTERN, Policies
from crane_shared.rpc import DryRunRequest, PolicyCheckRequest, RpcError, SandboxAnswer, ShippedAnswer, ShippedRequest

from .policy_store import default_policies
from .rego_errors import readable
from .sandbox import run_in_sandbox

DRY_RUN_PACKAGES = {"autoscale", "admission", "scan"}


class PolicyAdmin:
    def __init__(self, policies: Policies) -> None:
        self.policies = policies

    async def check(self, request: PolicyCheckRequest) -> SandboxAnswer:
        """Compile the policy set with ``source`` as the module ``name``."""
        if not NAME_PATTERN.match(request.name):
            return SandboxAnswer(ok=False, error=f"invalid policy name {request.name!r}")
        modules = {**await self.policies.modules(), request.name: request.source}
        answer = SandboxAnswer(**await run_in_sandbox(modules, None))
        if not answer.ok and answer.error:
            answer.error = readable(answer.error, modules)
        return answer

    async def shipped(self, request: ShippedRequest) -> ShippedAnswer | RpcError:
        """The source CRANE ships for the policy ``name`` (policies/*.rego)."""
        shipped = default_policies()
        if request.name not in shipped:
            return RpcError(
                error=f"CRANE ships no policy named {request.name!r}; it ships {', '.join(sorted(shipped))}"
            )
        return ShippedAnswer(source=shipped[request.name])

    async def dry_run(self, request: DryRunRequest) -> SandboxAnswer:
        """data.crane.<package>.decision for ``input``, with ``source`` in place of the policy
        ``name`` if given."""
        modules = dict(await self.policies.modules())
        if request.source is not None:
            modules[request.name or "dry-run"] = request.source
        package = request.package or "autoscale"
        if package not in DRY_RUN_PACKAGES:
            return SandboxAnswer(ok=False, error=f"package must be one of {sorted(DRY_RUN_PACKAGES)}")
        return SandboxAnswer(**await run_in_sandbox(modules, request.input or {}, f"data.crane.{package}.decision"))
