"""Unauthenticated liveness/readiness."""

from fastapi import APIRouter

from ..deps import GatewayDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(gateway: GatewayDep) -> dict[str, str]:
    return {"status": "ok", "nats": "connected" if gateway.bus.nc.is_connected else "disconnected"}
