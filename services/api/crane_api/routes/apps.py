"""Apps: create (JSON or Compose), read, change, scale, start/stop/restart, logs, stats, clone,
export. Every change is applied to the record (so the answer reflects it) and published as an
intent event, which the deployer acts on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import KeyNotFoundError, NotFoundError
from pydantic import ValidationError

from crane_shared import subjects as s
from crane_shared.admission import AdmissionUnavailable, admission_refusals
from crane_shared.appspec import AppRecord, AppSpec, AppStatus, spec_changes
from crane_shared.builds import AppBuilds, BuildRecord, builds_key
from crane_shared.correlation import chain_of, following
from crane_shared.events import (
    AppCreated,
    AppDeleted,
    AppRestartRequested,
    AppUpdated,
    Event,
    InvalidEvent,
    new_event,
)
from crane_shared.intents import ScaleConflict, apply_restart, apply_update
from crane_shared.rpc import LogLines, LogsRequest
from crane_shared.scan import AppScan, app_key
from crane_shared.servicespec import NAME_PATTERN
from crane_shared.storage import Kind, OverQuota
from crane_shared.store import Conflict
from crane_shared.uploads import store_contents
from crane_shared.users import User

from ..deps import CurrentUser, Gateway, GatewayDep, OwnedApp, UploadSpool
from ..requests import (
    APP_BODY_OPENAPI,
    PATCH_BODY_OPENAPI,
    AppUpload,
    claimed_spec,
    event_errors,
    field_errors,
    is_upload,
    read_app_spec,
    validation_errors,
)
from ..schemas import AppPublic, AppScanPublic, AppUpdate, ScaleRequest

router = APIRouter(prefix="/apps", tags=["apps"])
SOURCE = "crane/api"
SETTLED = {AppStatus.RUNNING, AppStatus.FAILED, AppStatus.STOPPED}


def public(gateway: Gateway, record: AppRecord) -> AppPublic:
    return AppPublic.of(record, gateway.settings.app_url(record.id))


@contextlib.asynccontextmanager
async def _admitting(gateway: Gateway, owner: str) -> AsyncIterator[None]:
    try:
        async with gateway.apps.admitting(owner):
            yield
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


async def _admit(gateway: Gateway, owner: str, spec: AppSpec, app_id: str | None, intent: Event) -> None:
    """Ask the admission policy; refuse with its reasons (each names the field) if it says no.
    The policy announces its verdict about the app in the chain ``intent`` begins."""
    try:
        with following(chain_of(intent)):
            reasons = await admission_refusals(gateway.bus, owner, spec, app_id, announce=intent.subject)
    except (NatsTimeout, NoRespondersError):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the policy service did not answer; nothing was changed"
        ) from None
    except AdmissionUnavailable as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, str(exc)) from None
    if reasons is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, {"message": "refused by the admission policy", "reasons": reasons}
        )


async def _store_upload(gateway: Gateway, upload: AppUpload, owner: str) -> None:
    """Record what the upload brings for the app's owner (413 past their storage quota), then
    store it: the deployer uses an object only for an owner recorded on it."""
    quota = gateway.settings.storage_quota_bytes(await gateway.users.get(owner))
    sizes: list[tuple[Kind, str, int]] = [
        ("context", digest, archive.stat().st_size if isinstance(archive, Path) else len(archive))
        for digest, archive in upload.contexts.items()
    ]
    sizes += [("file", file_id, len(content)) for file_id, content in upload.files.items()]
    try:
        for kind, name, size in sizes:
            await gateway.storage.record(kind, name, owner, size, quota)
    except OverQuota as exc:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"storage: {exc}") from None
    await store_contents(gateway.bus.objects, upload.contexts, upload.files)


async def _reuse_unchanged_files(gateway: Gateway, current: AppSpec, upload: AppUpload) -> None:
    """A secret or config uploaded again with the same content keeps its id, so the replicas
    that mount it are not replaced (`crane up` twice restarts nothing)."""
    if not upload.files:
        return
    store = await gateway.bus.objects(s.FILES_OBJECTS)
    for new, old in ((upload.spec.secrets, current.secrets), (upload.spec.configs, current.configs)):
        for name, file_id in list(new.items()):
            old_id = old.get(name)
            if old_id is None or old_id == file_id or file_id not in upload.files:
                continue
            try:
                stored = (await store.get(old_id)).data
            except NotFoundError:
                continue
            if stored == upload.files[file_id]:
                new[name] = old_id
                del upload.files[file_id]


async def _create(gateway: Gateway, user: User, upload: AppUpload) -> AppRecord:
    spec, owner = upload.spec, user.id
    async with _admitting(gateway, owner):  # the check and the insert it allows, with no other between
        app_id = await gateway.apps.new_app_id(spec.name)  # a refusal leaves a number unused
        created = AppCreated(app_id=app_id, owner=owner, owner_email=user.email, spec=spec)
        event = new_event(s.APP_CREATED, created, source=SOURCE)
        await _admit(gateway, owner, spec, None, event)
        await _store_upload(gateway, upload, owner)  # nothing of a refused upload is kept
        record = AppRecord(id=app_id, owner=owner, owner_email=user.email, spec=spec, warnings=upload.all_warnings)
        await gateway.apps.insert(record)
    await gateway.apps.remember_creation(event.id, app_id)
    try:
        await gateway.bus.publish(event)
    except Exception:
        # Not accepted (the client gets a 503 and may retry): leave no half-created app behind.
        with contextlib.suppress(Exception):
            await gateway.apps.remove(app_id)
        raise
    return record


async def _wait_settled(gateway: Gateway, app_id: str, timeout: float, chain: str | None = None) -> AppRecord | None:
    """Poll the record until the app is running with all replicas, stopped, or failed (with
    ``chain``: once the deployer has carried that change out, so an app running as it was
    before the change does not count)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        record = await gateway.apps.get(app_id)
        if record is None:
            return None
        settled = (
            record.status in SETTLED
            and (record.status != AppStatus.RUNNING or record.running_replicas >= record.desired_replicas)
            and (chain is None or record.reconciled_chain == chain)
        )
        if settled or asyncio.get_running_loop().time() >= deadline:
            return record
        await asyncio.sleep(0.2)


async def _change(
    gateway: Gateway,
    record: AppRecord,
    update: AppUpdated,
    wait: float | None = None,
    also: Callable[[AppRecord], AppRecord] = lambda record: record,
) -> AppRecord:
    """Change the app (and ``also`` this, in the same write); with ``wait`` (seconds), answer
    once the deployer has carried the change out and the app is running, stopped or failed (or
    the time is up)."""
    try:
        proposed = apply_update(record.model_copy(deep=True), update)  # refuse before anything is published
    except ScaleConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc).removeprefix("data.replicas: ")) from None
    except InvalidEvent as exc:
        raise event_errors(str(exc)) from None
    event = new_event(s.APP_UPDATED, update, source=SOURCE)
    async with _admitting(gateway, record.owner):
        if proposed.spec != record.spec:
            await _admit(gateway, record.owner, proposed.spec, record.id, event)
        changed = await gateway.apps.mutate(record.id, lambda r: also(apply_update(r, update)))
    await gateway.bus.publish(event)
    if changed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no app {record.id!r}")
    if wait:
        return await _wait_settled(gateway, record.id, wait, chain_of(event)) or changed
    return changed


@router.get("", response_model=list[AppPublic])
async def list_apps(user: CurrentUser, gateway: GatewayDep) -> list[AppPublic]:
    records = await gateway.apps.list()
    return [public(gateway, r) for r in records if user.is_admin or r.owner == user.id]


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=AppPublic, openapi_extra=APP_BODY_OPENAPI)
async def create_app(
    request: Request,
    response: Response,
    user: CurrentUser,
    gateway: GatewayDep,
    spool: UploadSpool,
    wait: Annotated[bool, Query(description="answer when the app is running or failed")] = False,
    timeout: Annotated[float, Query(gt=0, le=600, description="seconds to wait at most")] = 60,
    name: Annotated[
        str | None, Query(pattern=NAME_PATTERN, description="the app's name when its compose file has none")
    ] = None,
) -> AppPublic:
    """Create an app from the App payload (JSON), a Compose file (Content-Type:
    application/yaml), or a multipart upload of a Compose file with build contexts, secrets
    and configs."""
    upload = await read_app_spec(request, gateway.settings.upload_rules, spool, name)
    record = await _create(gateway, user, upload)
    if wait:
        record = await _wait_settled(gateway, record.id, min(timeout, gateway.settings.max_wait_seconds)) or record
        response.status_code = status.HTTP_200_OK
    return public(gateway, record)


@router.get("/{app_id}", response_model=AppPublic)
async def get_app(record: OwnedApp, gateway: GatewayDep) -> AppPublic:
    return public(gateway, record)


@router.patch(
    "/{app_id}", status_code=status.HTTP_202_ACCEPTED, response_model=AppPublic, openapi_extra=PATCH_BODY_OPENAPI
)
async def update_app(
    request: Request,
    response: Response,
    record: OwnedApp,
    gateway: GatewayDep,
    spool: UploadSpool,
    wait: Annotated[
        bool, Query(description="answer once the change is carried out: running, stopped or failed")
    ] = False,
    timeout: Annotated[float, Query(gt=0, le=600, description="seconds to wait at most")] = 60,
) -> AppPublic:
    """Change an app: JSON fields (AppUpdate) are merged into it; a compose file or a
    multipart upload (as for POST /apps, with build contexts) replaces its spec."""
    waiting = min(timeout, gateway.settings.max_wait_seconds) if wait else None
    if wait:
        response.status_code = status.HTTP_200_OK
    if is_upload(request):
        upload = await read_app_spec(request, gateway.settings.upload_rules, spool, record.spec.name)
        if upload.spec.name != record.spec.name:
            raise field_errors([(("name",), f"the app is called {record.spec.name!r}; an update keeps its name")])
        await _reuse_unchanged_files(gateway, record.spec, upload)
        await _store_upload(gateway, upload, record.owner)
        update = AppUpdated(app_id=record.id, spec=upload.spec)
        warnings = upload.all_warnings
        changed = await _change(gateway, record, update, waiting, also=lambda r: _with_warnings(r, warnings))
        return public(gateway, changed)
    try:
        body = AppUpdate.model_validate_json(await request.body() or b"{}")
    except ValidationError as exc:
        raise validation_errors(exc) from None
    primary = record.spec.primary_service
    if body.services is None and body.replicas is not None and body.replicas > primary.replicas:
        refusal = primary.scale_refusal(body.replicas)
        if refusal:
            raise HTTPException(status.HTTP_409_CONFLICT, refusal)
    try:
        spec = claimed_spec(AppSpec.model_validate(spec_changes(record.spec, body.model_dump(exclude_none=True))))
    except ValidationError as exc:
        raise validation_errors(exc) from None
    return public(gateway, await _change(gateway, record, AppUpdated(app_id=record.id, spec=spec), waiting))


def _with_warnings(record: AppRecord, warnings: list[str]) -> AppRecord:
    record.warnings = warnings
    return record


@router.delete("/{app_id}", status_code=status.HTTP_202_ACCEPTED, response_model=AppPublic)
async def delete_app(record: OwnedApp, gateway: GatewayDep) -> AppPublic:
    def deleting(current: AppRecord) -> AppRecord:
        current.status = AppStatus.DELETING
        return current

    record = await gateway.apps.mutate(record.id, deleting) or record
    await gateway.lab.stop(record.id)  # its load has nothing left to reach
    await gateway.bus.publish(new_event(s.APP_DELETED, AppDeleted(app_id=record.id), source=SOURCE))
    return public(gateway, record)


@router.post("/{app_id}/start", status_code=status.HTTP_202_ACCEPTED, response_model=AppPublic)
async def start_app(record: OwnedApp, gateway: GatewayDep) -> AppPublic:
    return public(gateway, await _change(gateway, record, AppUpdated(app_id=record.id, desired_state="running")))


@router.post("/{app_id}/stop", status_code=status.HTTP_202_ACCEPTED, response_model=AppPublic)
async def stop_app(record: OwnedApp, gateway: GatewayDep) -> AppPublic:
    return public(gateway, await _change(gateway, record, AppUpdated(app_id=record.id, desired_state="stopped")))


@router.post("/{app_id}/scale", status_code=status.HTTP_202_ACCEPTED, response_model=AppPublic)
async def scale_app(body: ScaleRequest, record: OwnedApp, gateway: GatewayDep) -> AppPublic:
    """Set a service's replicas (``service``, or the app's primary service when absent). A
    service whose writable volume only one replica may use answers 409."""
    update = AppUpdated(app_id=record.id, service=body.service, replicas=body.replicas)
    return public(gateway, await _change(gateway, record, update))


@router.post("/{app_id}/restart", status_code=status.HTTP_202_ACCEPTED, response_model=AppPublic)
async def restart_app(record: OwnedApp, gateway: GatewayDep) -> AppPublic:
    event = new_event(s.APP_RESTART_REQUESTED, AppRestartRequested(app_id=record.id), source=SOURCE)
    changed = await gateway.apps.mutate(record.id, lambda r: apply_restart(r, event.id)) or record
    await gateway.bus.publish(event)
    return public(gateway, changed)


@router.post("/{app_id}/clone", status_code=status.HTTP_202_ACCEPTED, response_model=AppPublic)
async def clone_app(record: OwnedApp, user: CurrentUser, gateway: GatewayDep) -> AppPublic:
    """A new app with the same configuration (and a new id), owned by the caller."""
    return public(gateway, await _create(gateway, user, AppUpload(record.spec, record.warnings)))


async def _ask_deployer(gateway: Gateway, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        answer = await gateway.bus.request(subject, body, timeout=15)
    except (NatsTimeout, NoRespondersError):
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, "the deployer did not answer") from None
    if "error" in answer:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"the deployer failed: {answer['error']}")
    return answer


@router.post("/{app_id}/logs")
async def app_logs(record: OwnedApp, gateway: GatewayDep, body: LogLines | None = None) -> dict[str, Any]:
    """The last lines of every replica's log."""
    asked = LogsRequest(app_id=record.id, **(body or LogLines()).model_dump())
    return await _ask_deployer(gateway, s.RPC_APP_LOGS, asked.model_dump())


@router.post("/{app_id}/stats")
async def app_stats(record: OwnedApp, gateway: GatewayDep) -> dict[str, Any]:
    """CPU and memory of every running replica (one sample from the Engine)."""
    return await _ask_deployer(gateway, s.RPC_APP_STATS, {"app_id": record.id})


@router.get("/{app_id}/scan", response_model=AppScanPublic)
async def app_scan(record: OwnedApp, gateway: GatewayDep) -> AppScanPublic:
    """What Trivy found in the app's images (counts by severity, findings, scanner and database
    version) and whether the scan policy let them run."""
    kv = await gateway.bus.kv(s.SCANS_BUCKET)
    try:
        entry = await kv.get(app_key(record.id))
        scan = AppScan.model_validate_json(entry.value) if entry.value else None
    except KeyNotFoundError:
        scan = None
    return AppScanPublic.of(record.id, scan)


@router.get("/{app_id}/builds", response_model=list[BuildRecord])
async def app_builds(record: OwnedApp, gateway: GatewayDep) -> list[BuildRecord]:
    """The app's latest image builds (newest last), each with its log and outcome."""
    kv = await gateway.bus.kv(s.BUILDS_BUCKET)
    try:
        entry = await kv.get(builds_key(record.id))
    except KeyNotFoundError:
        return []
    return AppBuilds.model_validate_json(entry.value or b"{}").builds


@router.get(
    "/{app_id}/compose",
    response_class=Response,
    responses={200: {"content": {"application/yaml": {}}}, 409: {"description": "not rendered yet"}},
)
async def export_compose(record: OwnedApp, gateway: GatewayDep) -> Response:
    """The app as a docker-compose.yml that runs anywhere with ``docker compose up``."""
    text = await gateway.apps.compose(record.id)
    if text is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the deployer has not rendered this app yet; retry shortly")
    return Response(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{record.id}-compose.yml"'},
    )
