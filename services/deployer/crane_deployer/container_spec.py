"""Pure translation of an app's service into what the Engine needs to create one replica:
image, command, environment, labels (CRANE's and Traefik's), limits and security options."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crane_shared.appspec import AppRecord
from crane_shared.container_defaults import Limits, replica_capabilities
from crane_shared.servicespec import SCALE_FIELDS, ServiceNetwork, ServiceSpec
from crane_shared.units import parse_duration, parse_memory, parse_volume

from .mounted_files import SECRETS_DIR, MountedFile, files_volume, links_archive, service_files
from .naming import LABEL_REPLICA, LABEL_SERVICE, LABEL_SPEC_HASH, Naming


@dataclass
class ReplicaSpec:
    """Everything needed to create one container; built without touching Docker."""

    name: str
    image: str
    command: list[str] | str | None
    environment: dict[str, str]
    labels: dict[str, str]
    network: str  # the app's own network: only its replicas (and the router) are on it
    aliases: list[str]
    volumes: dict[str, dict[str, str]]  # named volume or host path -> {"bind", "mode"}
    nano_cpus: int
    mem_limit: int
    pids_limit: int
    healthcheck: dict[str, Any] | None
    # The app's other networks this replica is on, with its names there (Compose's networks).
    extra_networks: list[tuple[str, list[str]]] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=lambda: ["no-new-privileges:true"])
    cap_drop: list[str] = field(default_factory=lambda: ["ALL"])
    # Only set when the admission policy allowed the spec to ask for them.
    cap_add: list[str] = field(default_factory=list)
    privileged: bool = False
    host_network: bool = False
    pid_mode: str | None = None
    ipc_mode: str | None = None
    entrypoint: list[str] | str | None = None
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    stop_signal: str | None = None
    stop_timeout: int | None = None
    init: bool = False
    read_only: bool = False
    tmpfs: dict[str, str] = field(default_factory=dict)
    # Secrets and configs: the files volume (mounted read-only at /run/secrets) to fill before
    # the replica starts, with these files, and the links to unpack for targets elsewhere.
    files_volume: str | None = None
    files: list[MountedFile] = field(default_factory=list)
    links: bytes | None = None

    @property
    def named_volumes(self) -> list[str]:
        return [name for name in self.volumes if not name.startswith("/")]

    @property
    def host_binds(self) -> list[str]:
        """The host folders and files it mounts (absolute paths, as judged)."""
        return [name for name in self.volumes if name.startswith("/")]


NETWORK_LAYOUT = 2


def spec_hash(record: AppRecord, service: ServiceSpec) -> str:
    """Changes whenever a replica of ``service`` must be recreated (its spec, or a restart);
    not when only its scale changes."""
    routed = record.spec.routed_service
    basis = {
        "service": service.model_dump(mode="json", exclude=set(SCALE_FIELDS)),
        "routed": routed is not None and routed.name == service.name,
        "files": [(f.path, f.file_id, f.mode, f.uid, f.gid) for f in service_files(record.spec, service)],
        "restart": record.restart_token,
        # Replicas of the layout before per-app networks (a shared edge network) move once.
        "networks": NETWORK_LAYOUT,
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]


def desired_slots(record: AppRecord) -> dict[str, tuple[int, str]]:
    """service -> (replicas, spec hash): the input of plan_replicas."""
    return {s.name: (record.desired(s), spec_hash(record, s)) for s in record.spec.services}


def restart_policies(record: AppRecord) -> dict[str, str]:
    """service -> its restart policy: the input of plan_replicas and ready_by_service."""
    return {s.name: s.restart for s in record.spec.services}


def healthcheck_config(service: ServiceSpec) -> dict[str, Any] | None:
    check = service.healthcheck
    if check is None:
        return None
    test = check.test if isinstance(check.test, list) else ["CMD-SHELL", check.test]
    ns = 1_000_000_000
    return {
        "test": test,
        "interval": int(parse_duration(check.interval) * ns),
        "timeout": int(parse_duration(check.timeout) * ns),
        "retries": check.retries,
        "start_period": int(parse_duration(check.start_period) * ns),
    }


def replica_spec(
    record: AppRecord,
    service: ServiceSpec,
    index: int,
    naming: Naming,
    limits: Limits,
    host_paths: Mapping[str, str] | None = None,
) -> ReplicaSpec:
    """How one replica runs. ``host_paths`` maps host paths as written to where they lead (the
    host path gate's judgement): the replica mounts the place judged."""
    labels = {
        **service.labels,
        **naming.app_labels(record.id, record.owner),
        LABEL_SERVICE: service.name,
        LABEL_REPLICA: str(index),
        LABEL_SPEC_HASH: spec_hash(record, service),
    }
    port = service.routed_port
    if port:
        labels.update(
            naming.router_labels(
                record.id,
                service.name,
                port,
                record.spec.primary_service.name == service.name,
                service.network_names[0],
            )
        )
    cpus, memory = service.limits(limits.cpus, limits.memory)
    volumes = {}
    for volume in map(parse_volume, service.volumes):
        source = volume.source
        if volume.is_host_path:
            source = (host_paths or {}).get(source, source)
        else:
            # per_replica: each replica its own copy of a writable volume (its slot's number).
            own = service.volume_scaling == "per_replica" and volume.mode == "rw"
            source = naming.volume(record.id, f"{source}-r{index}" if own else source, record.volume_names)
        volumes[source] = {"bind": volume.target, "mode": volume.mode}
    files = service_files(record.spec, service)
    files_at = naming.volume(record.id, files_volume(service.name, files), record.volume_names) if files else None
    if files_at:
        volumes[files_at] = {"bind": SECRETS_DIR, "mode": "ro"}
    return ReplicaSpec(
        name=naming.container(record.id, service.name, index),
        image=naming.image(record.id, service),
        command=service.command,
        environment=dict(service.environment),
        labels=labels,
        network=naming.app_network(record.id, service.network_names[0]),
        aliases=[service.name, *service.networks.get(service.network_names[0], ServiceNetwork()).aliases],
        extra_networks=[
            (naming.app_network(record.id, name), [service.name, *service.networks[name].aliases])
            for name in service.network_names[1:]
        ],
        volumes=volumes,
        nano_cpus=int(cpus * 1e9),
        mem_limit=parse_memory(memory),
        pids_limit=limits.pids,
        healthcheck=healthcheck_config(service),
        cap_add=replica_capabilities(service),
        cap_drop=["ALL"],
        privileged=service.privileged,
        host_network=service.network_mode == "host",
        pid_mode=service.pid,
        ipc_mode=service.ipc,
        entrypoint=service.entrypoint,
        user=service.user,
        working_dir=service.working_dir,
        hostname=service.hostname,
        stop_signal=service.stop_signal,
        stop_timeout=round(parse_duration(service.stop_grace_period)) if service.stop_grace_period else None,
        init=service.init,
        read_only=service.read_only,
        tmpfs=dict(path.partition(":")[::2] for path in service.tmpfs),
        files_volume=files_at,
        files=files,
        links=links_archive(files),
    )
