"""One service of an app (a Compose service): its image or build, how it runs, its scale,
files, networks and dependencies. Validated here, once, so the API, the deployer and direct
NATS publishers all get the same answers and the same 422 paths."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .build_context import DIGEST_PATTERN
from .container_defaults import DROPPED_CAPABILITIES
from .units import container_port, parse_duration, parse_memory, parse_volume
from .uploads import UPLOAD_PATTERN

# What a spec names uploaded content by: its digest, or a NATS client's upload (uploads.py).
CONTEXT_REF_PATTERN = f"{DIGEST_PATTERN}|{UPLOAD_PATTERN}"

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,28}[a-z0-9]$|^[a-z]$"
# An app id is a name, a dash and the suite-wide number (shop-7).
APP_ID_PATTERN = r"^[a-z][a-z0-9-]{0,40}-[0-9]{1,12}$"
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
RESERVED_SERVICE_NAMES = {"crane-router"}
MAX_REPLICAS = 50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


# The scale of a service. The original CRANE had them per app; they now belong to each service,
# and the app-level fields mean the app's primary service (see AppSpec).
SCALE_FIELDS = ("replicas", "min_scale", "max_scale", "autoscaling")
DEFAULT_MAX_SCALE = 10
# How replicas of a service that mounts a writable named volume may share it:
#   exclusive    one replica only (CRANE refuses to scale it: two databases on one volume
#                corrupt it), unless the file itself asks for more (honoured, with a warning)
#   per_replica  each replica gets its own copy of the volume (<volume>-r<index>)
#   shared       every replica mounts the same volume, on purpose
VolumeScaling = Literal["exclusive", "per_replica", "shared"]


def _autoscaling_block_turns_it_on(data: Any) -> Any:
    if isinstance(data, dict) and isinstance(data.get("autoscaling"), dict) and "enabled" not in data["autoscaling"]:
        data = {**data, "autoscaling": {**data["autoscaling"], "enabled": True}}
    return data


def _default_max_scale(data: Any) -> Any:
    """max_scale defaults to 10, or to replicas when more are asked for."""
    if isinstance(data, dict) and data.get("max_scale") is None and isinstance(data.get("replicas"), int):
        data = {**data, "max_scale": max(DEFAULT_MAX_SCALE, data["replicas"])}
    return data


class _Scaled(_Strict):
    """replicas within min_scale..max_scale, and an autoscaling block that turns itself on."""

    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    # Bounds come before replicas so that the replicas check can see them.
    min_scale: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1
    max_scale: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = DEFAULT_MAX_SCALE
    replicas: Annotated[int, Field(ge=0, le=MAX_REPLICAS)] = 1

    @model_validator(mode="before")
    @classmethod
    def _scale_defaults(cls, data: Any) -> Any:
        return _default_max_scale(_autoscaling_block_turns_it_on(data))

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


class BuildSpec(_Strict):
    """A service built from source: Compose's build (dockerfile, args, target), with the
    uploaded context named by its content digest (the context itself is in the object store),
    or, in a NATS client's intent, by the name of its upload (uploads.py)."""

    context: Annotated[str, Field(pattern=CONTEXT_REF_PATTERN)]
    dockerfile: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-][A-Za-z0-9_./-]{0,254}$")] = "Dockerfile"
    args: dict[str, str] = Field(default_factory=dict)
    target: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")] | None = None
    # Builds have no network unless the service asks for the Engine's default one (Compose's
    # build.network: default), for steps that must fetch; the admission policy may refuse it.
    network: Literal["none", "default"] = "none"

    @field_validator("dockerfile")
    @classmethod
    def _inside_the_context(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError(f"dockerfile {value!r} must be inside the context")
        return value

    @property
    def key(self) -> str:
        """Names one build: the same context, Dockerfile, args and target give the same image."""
        # (without the network when there is none: images built before it was a field keep their key)
        basis = json.dumps(self.model_dump(exclude={"network"} if self.network == "none" else None), sort_keys=True)
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    @field_validator("args", mode="before")
    @classmethod
    def _args_as_dict(cls, value: object) -> object:
        if isinstance(value, list):  # Compose's list form: ["KEY=value", ...]
            return dict(str(item).partition("=")[::2] for item in value)
        if isinstance(value, dict):
            return {k: "" if v is None else str(v) for k, v in value.items()}
        return value


FILE_ID_PATTERN = r"^f-[0-9a-f]{32}$"
# What a spec names a secret's or config's content by: its id, or a NATS client's upload.
FILE_REF_PATTERN = f"{FILE_ID_PATTERN}|{UPLOAD_PATTERN}"
FileKind = Literal["secret", "config"]


class FileMount(_Strict):
    """A secret or config mounted into a service's replicas (Compose's long syntax). The target
    defaults to /run/secrets/<source> for secrets and /<source> for configs; a relative secret
    target is under /run/secrets."""

    source: Annotated[str, Field(pattern=KEY_PATTERN)]
    target: Annotated[str, Field(pattern=r"^[^\s:]{1,255}$")] | None = None
    mode: Annotated[int, Field(ge=0, le=0o777)] | None = None
    uid: Annotated[str, Field(pattern=r"^[0-9]{1,10}$")] | None = None
    gid: Annotated[str, Field(pattern=r"^[0-9]{1,10}$")] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        return {"source": data} if isinstance(data, str) else data

    @field_validator("target")
    @classmethod
    def _no_dot_dot(cls, value: str | None) -> str | None:
        if value is not None and ".." in value.split("/"):
            raise ValueError(f"target {value!r} must not contain '..'")
        return value

    def path(self, kind: FileKind) -> str:
        """Where the file lands in the container."""
        target = self.target or self.source
        if target.startswith("/"):
            return target
        return f"/run/secrets/{target}" if kind == "secret" else f"/{target}"


DEFAULT_NETWORK = "default"
NETWORK_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,30}$"


class ServiceNetwork(_Strict):
    """A service's place on one of the app's networks: the extra names it answers to there."""

    aliases: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]] = Field(
        default_factory=list, max_length=10
    )


class AppNetwork(_Strict):
    """A network of the app's own (Compose's top-level networks); internal: no way out."""

    internal: bool = False


RestartPolicy = Annotated[str, Field(pattern=r"^(no|always|unless-stopped|on-failure(:[0-9]{1,4})?)$")]
DependencyCondition = Literal["service_started", "service_healthy", "service_completed_successfully"]


class DependsOn(_Strict):
    """Compose's long depends_on form (the short list means service_started)."""

    condition: DependencyCondition = "service_started"
    required: bool = True
    restart: bool = False


class ServiceSpec(_Scaled):
    """One service of an app (a Compose service) with its own replicas, bounds and autoscaling."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    build: BuildSpec | None = None  # before image, so that image's check can see it
    # The image to run; a service with ``build`` runs the image CRANE builds from its context.
    image: Annotated[str | None, Field(min_length=1, max_length=255, pattern=r"^[^\s]+$", validate_default=True)] = None
    command: list[str] | str | None = None
    entrypoint: list[str] | str | None = None
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
    # Capabilities the service gives up beyond CRANE's own (Compose's cap_drop; ALL is allowed).
    cap_drop: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z_]{1,31}$")]] = Field(default_factory=list, max_length=40)
    volume_scaling: VolumeScaling = "exclusive"
    # Files uploaded with the app (AppSpec.secrets / .configs), mounted read-only.
    secrets: list[FileMount] = Field(default_factory=list, max_length=50)
    configs: list[FileMount] = Field(default_factory=list, max_length=50)
    # The app's networks this service is on (none: the app's default network), by name.
    networks: dict[Annotated[str, Field(pattern=NETWORK_NAME_PATTERN)], ServiceNetwork] = Field(
        default_factory=dict, max_length=10
    )
    # Replicas of this service are created once these services meet their condition.
    depends_on: dict[str, DependsOn] = Field(default_factory=dict)
    # What CRANE does when a replica exits: replace it (always, unless-stopped), leave it
    # (no), or replace it only when it failed (on-failure).
    restart: RestartPolicy = "always"
    # How the process runs (Compose's keys, passed to the Engine as they are).
    user: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}(:[A-Za-z0-9_.-]{1,64})?$")] | None = None
    working_dir: Annotated[str, Field(pattern=r"^/[^\s:]{0,255}$")] | None = None
    hostname: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")] | None = None
    stop_signal: Annotated[str, Field(pattern=r"^(SIG)?[A-Z0-9+-]{2,12}$|^[0-9]{1,2}$")] | None = None
    stop_grace_period: str | None = None
    init: bool = False
    read_only: bool = False
    # Paths inside the container that get an in-memory file system ("/tmp" or "/tmp:size=64m").
    tmpfs: list[Annotated[str, Field(pattern=r"^/[^:\s]{0,255}(:[a-z0-9=,]{1,128})?$")]] = Field(
        default_factory=list, max_length=20
    )

    @field_validator("depends_on", mode="before")
    @classmethod
    def _depends_on_as_dict(cls, value: object) -> object:
        return {str(name): {} for name in value} if isinstance(value, list) else value

    @field_validator("networks", mode="before")
    @classmethod
    def _networks_as_dict(cls, value: object) -> object:
        if isinstance(value, list):
            return {str(name): {} for name in value}
        if isinstance(value, dict):
            return {name: {} if options is None else options for name, options in value.items()}
        return value

    @property
    def network_names(self) -> list[str]:
        """The app networks the service is on, the first being the one it is routed on."""
        return list(self.networks) or [DEFAULT_NETWORK]

    @field_validator("restart", mode="before")
    @classmethod
    def _restart_no(cls, value: object) -> object:
        return "no" if value is False else value  # YAML reads an unquoted `no` as false

    @field_validator("stop_grace_period")
    @classmethod
    def _valid_grace(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("tmpfs", mode="before")
    @classmethod
    def _tmpfs_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

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
            if key.lower().startswith(("crane.", "traefik.", "com.docker.")):  # Traefik's own match ignores case
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

    @field_validator("image")
    @classmethod
    def _image_or_build(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("build") is None:
            raise ValueError("a service needs an image, or a build from an uploaded context")
        return value

    @field_validator("cap_drop")
    @classmethod
    def _beyond_cranes_own(cls, value: list[str]) -> list[str]:
        return [c for c in value if c not in DROPPED_CAPABILITIES]  # CRANE drops those anyway

    @model_validator(mode="after")
    def _stateful_is_not_autoscaled(self) -> ServiceSpec:
        if self.autoscaling.enabled and self.max_scale > 1 and self.exclusive_volumes:
            volumes = ", ".join(self.exclusive_volumes)
            raise ValueError(
                f"autoscaling: service {self.name!r} mounts the writable volume(s) {volumes}, "
                "which one replica at a time may use; set volume_scaling (x-crane) to per_replica or shared "
                "to scale it"
            )
        return self

    @property
    def writable_volumes(self) -> list[str]:
        """Named volumes this service mounts read-write (its state)."""
        return [v.source for v in map(parse_volume, self.volumes) if not v.is_host_path and v.mode == "rw"]

    @property
    def exclusive_volumes(self) -> list[str]:
        """Writable named volumes that only one replica may mount (volume_scaling exclusive)."""
        return self.writable_volumes if self.volume_scaling == "exclusive" else []

    def scale_refusal(self, replicas: int) -> str | None:
        """Why CRANE must not give this service ``replicas`` replicas, or None when it may."""
        if replicas > 1 and self.exclusive_volumes:
            return (
                f"service {self.name!r} mounts the writable volume(s) {', '.join(self.exclusive_volumes)}: "
                f"{replicas} replicas over one volume would corrupt its data; set volume_scaling (x-crane) to "
                "per_replica (a volume each) or shared (on purpose) to scale it"
            )
        return None

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
