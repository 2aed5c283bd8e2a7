"""Request and response bodies of the REST gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from crane_shared.appspec import AppRecord, AppSpec, AppStatus
from crane_shared.nats_auth import events_subject
from crane_shared.scan import AppScan, ScanReport
from crane_shared.servicespec import MAX_REPLICAS
from crane_shared.users import Quota, User


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Strict):
    email: EmailStr
    password: Annotated[str, Field(min_length=8, max_length=256)]
    full_name: Annotated[str, Field(min_length=1, max_length=200)]


class UserPublic(BaseModel):
    id: str
    email: str
    full_name: str
    role: str
    quota: Quota | None = None


class Me(UserPublic):
    """You, and where to watch your apps' events with NATS directly (connect with your API token
    as the NATS token, subscribe to ``events_subject``)."""

    events_subject: str
    storage: StorageUse

    @classmethod
    def of(cls, user: User, storage: StorageUse) -> Me:
        subject = events_subject(user.id, user.is_admin)
        public = UserPublic.model_validate(user, from_attributes=True).model_dump()
        return cls(**public, events_subject=subject, storage=storage)


class StorageUse(BaseModel):
    """What your apps store: your uploads (build contexts, folders, secrets, configs; each
    counted once per owner) and the images CRANE built for them, and the quota each may reach."""

    uploads_bytes: int
    build_cache_bytes: int
    quota_bytes: int


class Login(_Strict):
    email: EmailStr
    password: Annotated[str, Field(min_length=1, max_length=256)]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


AppCreate = AppSpec


class AppUpdate(_Strict):
    """PATCH body: the fields given replace the app's; services, if given, replace all services."""

    services: list[dict[str, Any]] | None = None
    replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] | None = None
    min_scale: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] | None = None
    max_scale: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] | None = None


class ScaleRequest(_Strict):
    """``service`` defaults to the app's primary service (the routed one, else the first)."""

    replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)]
    service: Annotated[str, Field(max_length=64)] | None = None


class ServicePublic(BaseModel):
    """One service of an app: its replicas (desired and ready) and bounds."""

    name: str
    desired_replicas: int
    running_replicas: int
    min_scale: int
    max_scale: int
    autoscaling: bool
    volume_scaling: str


class AppPublic(BaseModel):
    id: str
    name: str
    # The owner's email (their id for an app whose owner is gone), and their user id.
    owner: str
    owner_id: str
    status: AppStatus
    reason: str | None
    desired_state: str
    desired_replicas: int
    running_replicas: int
    services: list[ServicePublic]
    url: str | None
    spec: AppSpec
    warnings: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: AppRecord, url: str | None) -> AppPublic:
        return cls(
            id=record.id,
            name=record.spec.name,
            owner=record.owner_email or record.owner,
            owner_id=record.owner,
            status=record.status,
            reason=record.reason,
            desired_state=record.desired_state,
            desired_replicas=record.desired_replicas,
            running_replicas=record.running_replicas,
            services=[
                ServicePublic(
                    name=s.name,
                    desired_replicas=record.desired(s),
                    running_replicas=record.service_replicas.get(s.name, 0),
                    min_scale=s.min_scale,
                    max_scale=s.max_scale,
                    autoscaling=s.autoscaling.enabled,
                    volume_scaling=s.volume_scaling,
                )
                for s in record.spec.services
            ],
            url=url if record.spec.routed_service else None,
            spec=record.spec,
            warnings=record.warnings,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class ImageScan(ScanReport):
    """One image's scan report and the scan policy's verdict on it; ``limits`` says what the
    scan could not look at ("not scanned: <why>"), null for a full scan."""

    allowed: bool
    reasons: list[str]
    cached: bool
    limits: str | None = None


class AppScanPublic(BaseModel):
    """``pending`` until the deployer has scanned every image it started; ``blocked`` when the
    scan policy refused one (the app is failed with the reasons)."""

    app_id: str
    status: Literal["pending", "allowed", "blocked"]
    images: list[ImageScan]

    @classmethod
    def of(cls, app_id: str, scan: AppScan | None) -> AppScanPublic:
        images = [
            ImageScan(
                **v.report.model_dump(),
                allowed=v.allowed,
                reasons=v.reasons,
                cached=v.cached,
                limits=v.report.limits_note(),
            )
            for v in (scan.images.values() if scan else [])
        ]
        status: Literal["pending", "allowed", "blocked"] = "pending"
        if images:
            status = "allowed" if all(i.allowed for i in images) else "blocked"
        return cls(app_id=app_id, status=status, images=images)
