"""The app model: what a user asks for (AppSpec) and what CRANE keeps about it (AppRecord).

AppSpec is a subset of the Compose service model. Everything is validated here, once, so the
API, the deployer and direct NATS publishers all get the same answers and the same 422 paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,28}[a-z0-9]$|^[a-z]$"
# An app id is a name, a dash and the suite-wide number (shop-7).
APP_ID_PATTERN = r"^[a-z][a-z0-9-]{0,40}-[0-9]{1,12}$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
RESERVED_SERVICE_NAMES = {"crane-router"}
MAX_REPLICAS = 50

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_DURATION_UNITS = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(value: str | int | float) -> float:
    """Seconds in a Compose duration ("10s", "1m", "500ms", or a number of seconds)."""
    if isinstance(value, (int, float)):
        return float(value)
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 10s, 500ms, 1m)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_memory(value: str | int) -> int:
    """Bytes in a Compose memory size ("256m", "1g", "512MiB", or a number of bytes)."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(value.strip())
    if not match:
        raise ValueError(f"not a memory size: {value!r} (use e.g. 256m, 1g)")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()])


def container_port(value: int | str) -> int:
    """The container side of a Compose port ("8080", "80:8080", "127.0.0.1:80:8080/tcp", 8080)."""
    text = str(value).split("/")[0]
    port_text = text.rsplit(":", 1)[-1]
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"not a port: {value!r}")
    return int(port_text)


_VOLUME_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_HOST_PATH = re.compile(r"^(/[A-Za-z0-9_.@+-]+)+/?$|^/$")


@dataclass(frozen=True)
class Volume:
    source: str  # a named volume, or an absolute host path
    target: str
    mode: str  # "rw" or "ro"

    @property
    def is_host_path(self) -> bool:
        return self.source.startswith("/")


def parse_volume(value: str) -> Volume:
    """A Compose short volume ("data:/var/lib/x", "/srv/shared:/data:ro")."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/") or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise ValueError(f"volume {value!r} must be NAME:/path[:ro] or /host/path:/path[:ro]")
    source = parts[0]
    if source.startswith("/"):
        if not _HOST_PATH.match(source) or "/../" in source + "/" or "/./" in source + "/":
            raise ValueError(f"volume {value!r}: {source!r} is not a plain absolute path")
    elif not _VOLUME_NAME.match(source):
        raise ValueError(f"volume {value!r}: {source!r} is not a volume name (a-z, 0-9, _ . -)")
    return Volume(source=source.rstrip("/") or "/", target=parts[1], mode=parts[2] if len(parts) == 3 else "rw")


AppId = Annotated[str, Field(pattern=APP_ID_PATTERN, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthCheck(_Strict):
    test: list[str] | str
    interval: str = "10s"
    timeout: str = "5s"
    retries: Annotated[int, Field(ge=1, le=100)] = 3
    start_period: str = "0s"

    @field_validator("interval", "timeout", "start_period")
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class Resources(_Strict):
    cpus: Annotated[float, Field(gt=0, le=64)] | None = None
    memory: str | None = None

    @field_validator("memory")
    @classmethod
    def _valid_memory(cls, value: str | None) -> str | None:
        if value is not None and parse_memory(value) < 6 * 1024**2:
            raise ValueError("memory must be at least 6m (Docker's minimum)")
        return value


class ServiceSpec(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    image: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\s]+$")]
    command: list[str] | str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    ports: list[int | str] = Field(default_factory=list)
    expose: list[int | str] = Field(default_factory=list)
    http_port: Annotated[int, Field(gt=0, lt=65536)] | None = None
    volumes: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    healthcheck: HealthCheck | None = None
    resources: Resources | None = None
    # Privileges a service may ask for. The shape is checked here; whether they are allowed is
    # decided by the admission policy (Rego), which refuses all of them by default.
    privileged: bool = False
    network_mode: Literal["bridge", "host"] | None = None
    pid: Literal["host"] | None = None
    ipc: Literal["host", "private", "shareable"] | None = None
    cap_add: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z_]{1,31}$")]] = Field(default_factory=list, max_length=40)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_SERVICE_NAMES:
            raise ValueError(f"service name {value!r} is reserved by CRANE")
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_as_dict(cls, value: object) -> object:
        # Compose allows both a mapping and a list of KEY=VALUE strings.
        if isinstance(value, list):
            pairs = {}
            for item in value:
                key, sep, val = str(item).partition("=")
                if not sep:
                    raise ValueError(f"environment entry {item!r} is not KEY=VALUE")
                pairs[key] = val
            return pairs
        if isinstance(value, dict):
            return {k: "" if v is None else str(v) for k, v in value.items()}
        return value

    @field_validator("environment", "labels")
    @classmethod
    def _valid_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(KEY_PATTERN, key):
                raise ValueError(f"invalid key {key!r}")
        return value

    @field_validator("labels")
    @classmethod
    def _no_reserved_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.startswith(("crane.", "traefik.", "com.docker.")):
                raise ValueError(f"label {key!r} uses a prefix CRANE manages")
        return value

    @field_validator("ports", "expose")
    @classmethod
    def _valid_ports(cls, value: list[int | str]) -> list[int | str]:
        for item in value:
            container_port(item)
        return value

    @field_validator("volumes")
    @classmethod
    def _valid_volumes(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_volume(item)
        return value

    def limits(self, default_cpus: float, default_memory: str) -> tuple[float, str]:
        """The CPUs and memory one replica gets: its own resources, else the suite's defaults."""
        resources = self.resources
        cpus = resources.cpus if resources and resources.cpus else default_cpus
        memory = resources.memory if resources and resources.memory else default_memory
        return cpus, memory

    @property
    def host_paths(self) -> list[str]:
        """The host directories this service mounts (each needs the admission policy's consent)."""
        return [v.source for v in map(parse_volume, self.volumes) if v.is_host_path]

    @property
    def routed_port(self) -> int | None:
        """The port Traefik sends HTTP traffic to: http_port, else the first declared port."""
        if self.http_port:
            return self.http_port
        declared = [*self.ports, *self.expose]
        return container_port(declared[0]) if declared else None


ScalingMetric = Literal["rps", "latency_p95", "cpu", "memory"]
# Per-replica targets when the app names none: requests/s, seconds, % of a core, % of the limit.
DEFAULT_TARGETS: dict[str, float] = {"rps": 20.0, "latency_p95": 0.5, "cpu": 70.0, "memory": 80.0}


class Autoscaling(_Strict):
    """How CRANE scales an app between min_scale and max_scale (the HPA's target-value rule).
    Off unless the app has an ``autoscaling`` block: an app asked for with 3 replicas keeps 3."""

    enabled: bool = False
    metric: ScalingMetric = "rps"
    # Per replica; None takes DEFAULT_TARGETS[metric].
    target: Annotated[float, Field(ge=0.001, le=1e9)] | None = None
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.1
    scale_up_cooldown: Annotated[float, Field(ge=0, le=3600)] = 3.0
    scale_down_stabilization: Annotated[float, Field(ge=0, le=3600)] = 30.0

    @property
    def target_value(self) -> float:
        return self.target if self.target is not None else DEFAULT_TARGETS[self.metric]


class AppSpec(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    services: Annotated[list[ServiceSpec], Field(min_length=1, max_length=20)]
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    # Bounds come before replicas so that the replicas check can see them.
    min_scale: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1
    max_scale: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 10
    replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1

    @model_validator(mode="before")
    @classmethod
    def _autoscaling_block_turns_it_on(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and isinstance(data.get("autoscaling"), dict)
            and "enabled" not in data["autoscaling"]
        ):
            data = {**data, "autoscaling": {**data["autoscaling"], "enabled": True}}
        return data

    @field_validator("services")
    @classmethod
    def _unique_services(cls, value: list[ServiceSpec]) -> list[ServiceSpec]:
        names = [s.name for s in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate service names {duplicates}")
        return value

    @field_validator("max_scale")
    @classmethod
    def _bounds_in_order(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_scale")
        if low is not None and low > value:
            raise ValueError(f"max_scale ({value}) must not be below min_scale ({low})")
        return value

    @field_validator("replicas")
    @classmethod
    def _replicas_within_bounds(cls, value: int, info: ValidationInfo) -> int:
        low, high = info.data.get("min_scale"), info.data.get("max_scale")
        if low is not None and high is not None and not low <= value <= high:
            raise ValueError(f"replicas ({value}) must be within min_scale..max_scale ({low}..{high})")
        return value

    @property
    def routed_service(self) -> ServiceSpec | None:
        """The service reachable at http://<app-id>.<domain>/: the first with an HTTP port."""
        return next((s for s in self.services if s.routed_port), None)


class AppStatus(StrEnum):
    PENDING = "pending"
    DEPLOYING = "deploying"
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"
    DELETING = "deleting"


def utcnow() -> datetime:
    return datetime.now(UTC)


class AppRecord(BaseModel):
    """What the suite keeps about one app, in the apps bucket under its id."""

    id: str
    owner: str
    spec: AppSpec
    desired_state: Literal["running", "stopped"] = "running"
    status: AppStatus = AppStatus.PENDING
    reason: str | None = None
    running_replicas: int = 0
    restart_token: str | None = None
    # Events about a change of this record that are not yet known to be published (an outbox:
    # written with the change, published, then cleared; a crash in between republishes them
    # under the same id, which the stream deduplicates).
    outbox: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def desired_replicas(self) -> int:
        return self.spec.replicas if self.desired_state == "running" else 0
