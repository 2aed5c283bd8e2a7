"""Rego policies (admins only): list, read, create or replace, delete, and dry-run. A policy
that does not compile is refused with the compiler's message; the policy service compiles it
in a sandbox, so the gateway never runs Rego itself."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, status
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, ConfigDict, Field

from crane_shared import subjects as s
from crane_shared.policies import Policies

from ..deps import AdminUser, Gateway, GatewayDep

router = APIRouter(prefix="/policies", tags=["policies"])
PolicyName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]


class PolicySource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Annotated[str, Field(min_length=1, max_length=64 * 1024)]


class DryRun(BaseModel):
    """Evaluate data.crane.<package>.decision for ``input``, with the stored policies or with
    ``source`` in place of the policy ``name``."""

    model_config = ConfigDict(extra="forbid")
    input: dict[str, Any]
    package: Literal["autoscale", "admission", "scan"] = "autoscale"
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")] = "autoscale"
    source: Annotated[str, Field(max_length=64 * 1024)] | None = None


async def _ask_policy(gateway: Gateway, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return await gateway.bus.request(subject, body, timeout=20)
    except (NatsTimeout, NoRespondersError):
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, "the policy service did not answer") from None


async def _policies(gateway: Gateway) -> Policies:
    return Policies(await gateway.bus.kv(s.POLICIES_BUCKET))


@router.get("")
async def list_policies(admin: AdminUser, gateway: GatewayDep) -> list[str]:
    return await (await _policies(gateway)).names()


@router.get("/{name}")
async def get_policy(name: PolicyName, admin: AdminUser, gateway: GatewayDep) -> dict[str, str]:
    source = await (await _policies(gateway)).source(name)
    if source is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no policy {name!r}")
    return {"name": name, "source": source}


@router.put("/{name}")
async def put_policy(name: PolicyName, body: PolicySource, admin: AdminUser, gateway: GatewayDep) -> dict[str, str]:
    checked = await _ask_policy(gateway, s.RPC_POLICY_CHECK, {"name": name, "source": body.source})
    if not checked.get("ok"):
        detail = [{"type": "value_error", "loc": ["body", "source"], "msg": checked.get("error", "does not compile")}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail)
    await (await _policies(gateway)).keep(name, body.source)
    return {"name": name, "status": "saved"}


@router.post("/{name}/restore")
async def restore_policy(name: PolicyName, admin: AdminUser, gateway: GatewayDep) -> dict[str, str]:
    """Put back the source CRANE ships for the policy ``name`` (what it was on first start)."""
    shipped = await _ask_policy(gateway, s.RPC_POLICY_SHIPPED, {"name": name})
    if shipped.get("source") is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, shipped.get("error") or f"no shipped policy {name!r}")
    await (await _policies(gateway)).keep(name, str(shipped["source"]))
    return {"name": name, "status": "restored", "source": str(shipped["source"])}


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_policy(name: PolicyName, admin: AdminUser, gateway: GatewayDep) -> None:
    if not await (await _policies(gateway)).remove(name):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no policy {name!r}")


@router.post("/dry-run")
async def dry_run(body: DryRun, admin: AdminUser, gateway: GatewayDep) -> dict[str, Any]:
    result = await _ask_policy(gateway, s.RPC_POLICY_EVALUATE, body.model_dump())
    if not result.get("ok"):
        field = "source" if body.source is not None else "input"
        detail = [{"type": "value_error", "loc": ["body", field], "msg": result.get("error", "evaluation failed")}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail)
    return {"decision": result.get("decision")}
