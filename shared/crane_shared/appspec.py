"""The app model: what a user asks for (AppSpec, its services in servicespec) and what
CRANE keeps about it (AppRecord), with the migration of records of older models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from .compat import UTC, StrEnum
from .servicespec import (
    APP_ID_PATTERN,
    CONTEXT_REF_PATTERN,
    DEFAULT_NETWORK,
    FILE_REF_PATTERN,
    KEY_PATTERN,
    NAME_PATTERN,
    NETWORK_NAME_PATTERN,
    SCALE_FIELDS,
    AppNetwork,
    FileMount,
    ServiceSpec,
    _autoscaling_block_turns_it_on,
    _Scaled,
)

AppId = Annotated[str, Field(pattern=APP_ID_PATTERN, max_length=64)]


def _primary_index(services: list[Any]) -> int:
    """Index of the primary service in raw service dicts: the first with an HTTP port."""
    for index, service in enumerate(services):
        if isinstance(service, dict) and (service.get("http_port") or service.get("ports") or service.get("expose")):
            return index
    return 0


class AppSpec(_Scaled):
    """An app: one or more services. ``replicas``, ``min_scale``, ``max_scale`` and
    ``autoscaling`` at the app level are the original CRANE's: they set the primary service's
    (the routed one, else the first), and always read back as the primary service's."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    services: Annotated[list[ServiceSpec], Field(min_length=1, max_length=20)]
    # The app's own networks besides its default one; no other app's containers are on any.
    networks: dict[Annotated[str, Field(pattern=NETWORK_NAME_PATTERN)], AppNetwork] = Field(
        default_factory=dict, max_length=10
    )
    # Uploaded files by name: the id of each in the files object store (never the content,
    # which stays out of events, logs and exports).
    secrets: dict[Annotated[str, Field(pattern=KEY_PATTERN)], Annotated[str, Field(pattern=FILE_REF_PATTERN)]] = Field(
        default_factory=dict
    )
    configs: dict[Annotated[str, Field(pattern=KEY_PATTERN)], Annotated[str, Field(pattern=FILE_REF_PATTERN)]] = Field(
        default_factory=dict
    )
    # App volumes that start with uploaded content (a bind-mounted folder's): volume -> the
    # digest of its tar in the contexts object store. Applied when CRANE creates the volume.
    seeds: dict[
        Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")], Annotated[str, Field(pattern=CONTEXT_REF_PATTERN)]
    ] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _app_scale_sets_the_primary_service(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("services"), list) or not data["services"]:
            return data
        services = [dict(s) if isinstance(s, dict) else s for s in data["services"]]
        primary = services[_primary_index(services)]
        if isinstance(primary, dict):
            given = _autoscaling_block_turns_it_on({k: data[k] for k in SCALE_FIELDS if data.get(k) is not None})
            own = _autoscaling_block_turns_it_on(primary)
            for key, value in given.items():
                if key in own and own[key] != value:
                    raise ValueError(
                        f"{key} ({value}) differs from services.{primary.get('name')}.{key} ({own[key]}); "
                        f"the app's {key} is its primary service's"
                    )
                primary.setdefault(key, value)
        return {**data, "services": services}

    @model_validator(mode="after")
    def _app_scale_reads_the_primary_service(self) -> AppSpec:
        primary = self.primary_service
        self.autoscaling, self.min_scale = primary.autoscaling, primary.min_scale
        self.max_scale, self.replicas = primary.max_scale, primary.replicas
        return self

    @field_validator("services")
    @classmethod
    def _unique_services(cls, value: list[ServiceSpec]) -> list[ServiceSpec]:
        names = [s.name for s in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate service names {duplicates}")
        return value

    @field_validator("services")
    @classmethod
    def _dependencies_resolve(cls, value: list[ServiceSpec]) -> list[ServiceSpec]:
        by_name = {s.name: s for s in value}
        for service in value:
            for name, needs in service.depends_on.items():
                if name not in by_name or name == service.name:
                    raise ValueError(f"{service.name}.depends_on: {name!r} is not another service of the app")
                if needs.condition == "service_healthy" and by_name[name].healthcheck is None:
                    raise ValueError(f"{service.name}.depends_on.{name}: service_healthy needs a healthcheck on {name}")
        cycle = _dependency_cycle({s.name: list(s.depends_on) for s in value})
        if cycle:
            raise ValueError(f"depends_on: the services depend on each other in a cycle ({' -> '.join(cycle)})")
        return value

    @model_validator(mode="after")
    def _service_networks_exist(self) -> AppSpec:
        for service in self.services:
            for name in service.networks:
                if name != DEFAULT_NETWORK and name not in self.networks:
                    raise ValueError(f"services.{service.name}.networks: the app has no network {name!r}")
        return self

    @property
    def used_networks(self) -> list[str]:
        """Every app network some service is on, in a stable order."""
        return sorted({name for service in self.services for name in service.network_names})

    @model_validator(mode="after")
    def _mounted_files_exist(self) -> AppSpec:
        for service in self.services:
            for kind, mounts, known in (
                ("secret", service.secrets, self.secrets),
                ("config", service.configs, self.configs),
            ):
                for mount in mounts:
                    if mount.source not in known:
                        raise ValueError(f"services.{service.name}.{kind}s: no {kind} {mount.source!r} was uploaded")
            if service.read_only and (service.secrets or service.configs):
                raise ValueError(
                    f"services.{service.name}: secrets and configs on a read_only service are not supported yet"
                )
        return self

    def files_of(self, service: ServiceSpec) -> list[tuple[str, str, FileMount]]:
        """(path in the container, file id, mount) of every secret and config of ``service``."""
        return [
            *((m.path("secret"), self.secrets[m.source], m) for m in service.secrets),
            *((m.path("config"), self.configs[m.source], m) for m in service.configs),
        ]

    @property
    def routed_service(self) -> ServiceSpec | None:
        """The service reachable at http://<app-id>.<domain>/: the first with an HTTP port."""
        return next((s for s in self.services if s.routed_port), None)

    @property
    def primary_service(self) -> ServiceSpec:
        """The service the app-level scale fields mean: the routed one, else the first."""
        return self.routed_service or self.services[0]

    def service(self, name: str | None) -> ServiceSpec | None:
        """The service called ``name``; None names the primary service."""
        if name is None:
            return self.primary_service
        return next((s for s in self.services if s.name == name), None)

    @property
    def autoscaled_services(self) -> list[ServiceSpec]:
        return [s for s in self.services if s.autoscaling.enabled]

    def scale_warnings(self) -> list[str]:
        """What the spec asks for that CRANE runs as asked but would never decide itself."""
        return [
            f"services.{s.name}.replicas: {s.replicas} replicas share the writable volume(s) "
            f"{', '.join(s.exclusive_volumes)}; most databases corrupt their data this way (CRANE runs it "
            "as the file asks, but will not scale it further)"
            for s in self.services
            if s.replicas > 1 and s.exclusive_volumes
        ]


def _dependency_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in ``graph`` (service -> the services it depends on) as a path, or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for nxt in graph.get(node, []):
            found = visit(nxt)
            if found:
                return found
        visiting.pop()
        done.add(node)
        return None

    for start in graph:
        found = visit(start)
        if found:
            return found
    return None


def spec_changes(spec: AppSpec, changes: dict[str, Any]) -> dict[str, Any]:
    """The raw spec ``spec`` becomes with ``changes`` (app fields; ``services`` replaces them
    all). App-level scale fields given in ``changes`` replace the primary service's own."""
    merged: dict[str, Any] = {k: v for k, v in spec.model_dump().items() if k not in SCALE_FIELDS}
    merged.update({k: v for k, v in changes.items() if k not in SCALE_FIELDS})
    given = {k: v for k, v in changes.items() if k in SCALE_FIELDS and v is not None}
    if given and isinstance(merged.get("services"), list) and merged["services"]:
        services = [dict(s) if isinstance(s, dict) else s for s in merged["services"]]
        primary = services[_primary_index(services)]
        if isinstance(primary, dict):
            for key in given:
                primary.pop(key, None)
            # More replicas than the old default bound: the bound follows (as at creation).
            if "max_scale" not in given and primary.get("max_scale", 0) < given.get("replicas", 0):
                primary.pop("max_scale", None)
        merged["services"] = services
    merged.update(given)
    return merged


def scale_service(spec: AppSpec, service: str | None, replicas: int) -> AppSpec:
    """``spec`` with ``service`` (None: the primary) at ``replicas``. Raises ValueError when no
    such service exists, ScaleRefused when its volumes forbid it, ValidationError off bounds."""
    target = spec.service(service)
    if target is None:
        raise ValueError(f"service: the app has no service {service!r} ({', '.join(s.name for s in spec.services)})")
    refusal = target.scale_refusal(replicas) if replicas > target.replicas else None
    if refusal:
        raise ScaleRefused(refusal)
    raw = {k: v for k, v in spec.model_dump().items() if k not in SCALE_FIELDS}
    raw["services"] = [{**s, "replicas": replicas} if s["name"] == target.name else s for s in raw["services"]]
    return AppSpec.model_validate(raw)


class ScaleRefused(ValueError):
    """A scale CRANE refuses to make (e.g. a second replica over a service's only volume)."""


class AppStatus(StrEnum):
    PENDING = "pending"
    DEPLOYING = "deploying"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    DELETING = "deleting"


def utcnow() -> datetime:
    return datetime.now(UTC)


RECORD_VERSION = 3


def migrate_record(data: Any) -> Any:
    """A record of an older model, as the current one reads it.

    Version 1 (no ``version``) had one replica count for every service: each service keeps the
    replicas it was running, and the app's autoscaling goes to its primary service (shared
    volumes kept, as they ran). Versions 1 and 2 named volumes with hyphens only: the app keeps
    those names (its data is in them); new apps get names that cannot collide."""
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        return data
    if not data.get("version"):
        data = _from_version_1(data)
    if data.get("version") == 2:
        data = {**data, "volume_names": "hyphenated", "version": 3}
    return data


def _from_version_1(data: dict[str, Any]) -> dict[str, Any]:
    spec = dict(data["spec"])
    services = [dict(s) if isinstance(s, dict) else s for s in spec.get("services") or []]
    for service in services:
        if isinstance(service, dict):
            for key in ("replicas", "min_scale", "max_scale"):
                if key in spec:
                    service.setdefault(key, spec[key])
            if (
                isinstance(service.get("replicas"), int) and service["replicas"] > 1
            ):  # several replicas over a volume ran before
                service.setdefault("volume_scaling", "shared")
    if services and isinstance(services[_primary_index(services)], dict) and spec.get("autoscaling"):
        services[_primary_index(services)].setdefault("volume_scaling", "shared")
    spec["services"] = services
    return {**data, "spec": spec, "version": 2}


class AppRecord(BaseModel):
    """What the suite keeps about one app, in the apps bucket under its id."""

    version: int = RECORD_VERSION
    id: str
    # The owner's user id (users.py): what grants access to the app.
    owner: str
    # The owner's email, for people to read (an id's email never changes).
    owner_email: str | None = None
    spec: AppSpec
    desired_state: Literal["running", "stopped"] = "running"
    status: AppStatus = AppStatus.PENDING
    reason: str | None = None
    running_replicas: int = 0
    # Ready replicas of each service, as the deployer last saw them.
    service_replicas: dict[str, int] = Field(default_factory=dict)
    # What the spec asks for that CRANE accepted with a warning (compose keys it ignores...).
    warnings: list[str] = Field(default_factory=list)
    restart_token: str | None = None
    # How the app's Docker volumes are named (naming.py): "separated" (<suite>-<app id>_<volume>;
    # app ids hold no "_", so no two apps' names can meet), or "hyphenated" for apps made before
    # (their data is in volumes of those names).
    volume_names: Literal["separated", "hyphenated"] = "separated"
    # The causal chain (correlation.py) of the last change asked of the app, or of the replica
    # that died last: what the deployer does and publishes for the app until the next one is
    # part of it.
    correlationid: str | None = Field(default=None, max_length=128)
    # The chain of the latest change a reconcile pass has carried out: once it is a change's
    # own, the status says what became of that change (PATCH ?wait=true waits for it).
    reconciled_chain: str | None = Field(default=None, max_length=128)
    # Events about a change of this record that are not yet known to be published (an outbox:
    # written with the change, published, then cleared; a crash in between republishes them
    # under the same id, which the stream deduplicates).
    outbox: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        return migrate_record(data)

    def desired(self, service: ServiceSpec) -> int:
        """Replicas ``service`` should have now (none while the app is stopped)."""
        return service.replicas if self.desired_state == "running" else 0

    @property
    def desired_replicas(self) -> int:
        """Replicas of every service together that should run now."""
        return sum(self.desired(s) for s in self.spec.services)
