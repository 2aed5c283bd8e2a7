"""The lab: make the lessons happen from the API alone. A bounded load on an app's own route
(lab.py), and killing one replica as a crash would (the deployer does it, app.kill_requested)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from crane_shared import subjects as s
from crane_shared.appspec import AppRecord, AppStatus
from crane_shared.events import AppKillRequested

from ..deps import GatewayDep, OwnedApp
from ..lab import LabBusy, LoadPlan, LoadStatus
from ..requests import field_errors

router = APIRouter(prefix="/apps", tags=["lab"])


class KillRequest(BaseModel):
    """Which replica to kill: the ``replica``-th (from 0) of ``service`` (default: the app's
    primary service)."""

    model_config = ConfigDict(extra="forbid")

    service: Annotated[str, Field(max_length=64)] | None = None
    replica: Annotated[int, Field(ge=0, le=49)] = 0


class KillAccepted(BaseModel):
    event_id: str
    service: str
    replica: int


@router.post("/{app_id}/lab/load", status_code=status.HTTP_202_ACCEPTED, response_model=LoadStatus)
async def start_load(plan: LoadPlan, record: OwnedApp, gateway: GatewayDep) -> LoadStatus:
    """Send ``rate`` requests a second for ``seconds`` to the app's own route through the
    router (never anywhere else); one load at a time per app."""
    if record.spec.routed_service is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{record.id} has no service with an HTTP port to load")
    _require_replicas(record)
    try:
        run = await gateway.lab.start(record.id, plan, record.owner)
    except LabBusy as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return run.status()


@router.get("/{app_id}/lab/load", response_model=LoadStatus | None)
async def load_status(record: OwnedApp, gateway: GatewayDep) -> LoadStatus | None:
    """The app's current load, or its last one (null: none was started since the API began)."""
    run = gateway.lab.get(record.id)
    return run.status() if run else None


@router.delete("/{app_id}/lab/load", response_model=LoadStatus)
async def stop_load(record: OwnedApp, gateway: GatewayDep) -> LoadStatus:
    """Stop the app's load now (its outcome stays readable)."""
    run = await gateway.lab.stop(record.id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no load was started on {record.id}")
    return run.status()


@router.post("/{app_id}/lab/kill", status_code=status.HTTP_202_ACCEPTED, response_model=KillAccepted)
async def kill_replica(body: KillRequest, record: OwnedApp, gateway: GatewayDep) -> KillAccepted:
    """Kill one replica (SIGKILL, as a crash); the deployer replaces it, and the app's events
    show the death and the healing in this request's chain."""
    service = record.spec.service(body.service)
    if service is None:
        raise field_errors([(("service",), f"{record.id} has no service {body.service!r}")])
    _require_replicas(record)
    replicas = record.desired(service)
    if body.replica >= replicas:
        raise field_errors([(("replica",), f"{service.name} runs {replicas} replica(s), numbered from 0")])
    asked = AppKillRequested(app_id=record.id, service=service.name, replica=body.replica)
    event = await gateway.bus.emit(s.APP_KILL_REQUESTED, asked)  # begins the chain of the kill
    return KillAccepted(event_id=event.id, service=service.name, replica=body.replica)


def _require_replicas(record: AppRecord) -> None:
    """Refuse a lab action on an app that runs no replica (stopped, being deleted)."""
    if record.status in (AppStatus.STOPPED, AppStatus.DELETING) or record.desired_state == "stopped":
        raise HTTPException(status.HTTP_409_CONFLICT, f"{record.id} is {record.status.value}: it runs no replica")
