"""Writing an app as a portable compose file: the same services, replicas, limits, files and
networks the deployer runs, plus a Traefik router so load balancing comes along. Nothing of
this machine goes in: no host names, suite names or secrets' content."""

from __future__ import annotations

from typing import Any

import yaml

from .. import routing
from ..appspec import AppRecord
from ..container_defaults import Limits, dropped_capabilities
from ..servicespec import ServiceSpec
from ..units import container_port, parse_volume

ROUTER_SERVICE = "crane-router"
DEFAULT_TRAEFIK_IMAGE = "traefik:v3.1"
EXPORT_LABEL = "crane.export"
# Labels CRANE sets itself on every replica (a file's own are named in a warning, not applied).
MANAGED_LABEL_PREFIXES = ("traefik.", "crane.", "com.docker.")


def _escape(value: str) -> str:
    """Compose interpolates $VAR in values; a literal $ must be written $$."""
    return value.replace("$", "$$")


def _escaped(value: list[str] | str) -> list[str] | str:
    return [_escape(v) for v in value] if isinstance(value, list) else _escape(value)


def _settings(service: ServiceSpec) -> dict[str, Any]:
    """The service's x-crane block: CRANE's settings that Compose has no key for."""
    settings: dict[str, Any] = {"min_scale": service.min_scale, "max_scale": service.max_scale}
    if service.http_port:
        settings["http_port"] = service.http_port
    if service.autoscaling.enabled:
        settings["autoscaling"] = service.autoscaling.model_dump(exclude_none=True)
    if service.volume_scaling != "exclusive":
        settings["volume_scaling"] = service.volume_scaling
    return settings


def _router_labels(record: AppRecord, service: ServiceSpec, port: int) -> dict[str, str]:
    is_main = record.spec.primary_service.name == service.name
    router = routing.router_name(record.id, service.name)
    return {
        EXPORT_LABEL: record.id,
        **routing.router_labels(router, routing.hosts(record.id, service.name, is_main), port),
    }


def _render_service(record: AppRecord, service: ServiceSpec, limits: Limits) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if service.image:
        out["image"] = service.image
    if service.build:  # the source is not in the file: `docker compose up --build` next to ./<service>/
        build: dict[str, Any] = {"context": f"./{service.name}", "dockerfile": service.build.dockerfile}
        if service.build.args:
            build["args"] = {k: _escape(v) for k, v in service.build.args.items()}
        if service.build.target:
            build["target"] = service.build.target
        out["build"] = build
    for key in ("command", "entrypoint"):
        value = getattr(service, key)
        if value is not None:
            out[key] = _escaped(value)
    if service.environment:
        out["environment"] = {k: _escape(v) for k, v in service.environment.items()}
    declared = [container_port(p) for p in [*service.ports, *service.expose]]
    if declared:
        out["expose"] = [str(p) for p in dict.fromkeys(declared)]
    if service.volumes:
        out["volumes"] = list(service.volumes)
    labels = {k: _escape(v) for k, v in service.labels.items()}
    if service.routed_port:
        labels.update(_router_labels(record, service, service.routed_port))
    if labels:
        out["labels"] = labels
    if service.healthcheck:
        out["healthcheck"] = service.healthcheck.model_dump()
    for key in ("user", "working_dir", "hostname", "stop_signal", "stop_grace_period"):
        if getattr(service, key) is not None:
            out[key] = _escape(getattr(service, key))
    for key in ("init", "read_only"):
        if getattr(service, key):
            out[key] = True
    for kind in ("secrets", "configs"):  # the content never: the file lists where it goes
        mounts = getattr(service, kind)
        if mounts:
            out[kind] = [m.model_dump(exclude_none=True) for m in mounts]
    if service.networks:
        out["networks"] = {
            name: net.model_dump(exclude_defaults=True) or None for name, net in service.networks.items()
        }
    if service.depends_on:
        out["depends_on"] = {name: needs.model_dump() for name, needs in service.depends_on.items()}
    if service.restart != "always":
        out["restart"] = service.restart
    if service.tmpfs:
        out["tmpfs"] = list(service.tmpfs)
    cpus, memory = service.limits(limits.cpus, limits.memory)
    out["deploy"] = {
        "replicas": service.replicas,
        "resources": {"limits": {"cpus": str(cpus), "memory": memory, "pids": limits.pids}},
    }
    out["security_opt"] = ["no-new-privileges:true"]
    out["cap_drop"] = dropped_capabilities(service)
    # Privileges the admission policy allowed travel with the app, exactly as they were granted.
    if service.cap_add:
        out["cap_add"] = list(service.cap_add)
    if service.privileged:
        out["privileged"] = True
    for key in ("network_mode", "pid", "ipc"):
        if getattr(service, key):
            out[key] = getattr(service, key)
    out["x-crane"] = _settings(service)
    return out


def _router(app_id: str) -> dict[str, Any]:
    return {
        "image": "${CRANE_TRAEFIK_IMAGE:-" + DEFAULT_TRAEFIK_IMAGE + "}",
        "command": [
            "--providers.docker=true",
            "--providers.docker.exposedbydefault=false",
            f"--providers.docker.constraints=Label(`{EXPORT_LABEL}`,`{app_id}`)",
            "--entrypoints.web.address=:80",
        ],
        "ports": ["${CRANE_HTTP_PORT:-80}:80"],
        "volumes": ["/var/run/docker.sock:/var/run/docker.sock:ro"],
        "security_opt": ["no-new-privileges:true"],
    }


def render_compose(record: AppRecord, limits: Limits) -> str:
    """The app as a compose file that ``docker compose up`` runs on any machine."""
    services = {s.name: _render_service(record, s, limits) for s in record.spec.services}
    if record.spec.routed_service:
        services[ROUTER_SERVICE] = _router(record.id)
    document: dict[str, Any] = {"name": record.id, "x-crane": {"name": record.spec.name}, "services": services}
    volumes = sorted(
        {v.source for s in record.spec.services for v in map(parse_volume, s.volumes) if not v.is_host_path}
    )
    if volumes:
        document["volumes"] = {v: {} for v in volumes}
    if record.spec.networks:
        document["networks"] = {
            name: net.model_dump(exclude_defaults=True) or None for name, net in record.spec.networks.items()
        }
    # Secrets and configs by name only: their content stays in CRANE; put the files beside this one.
    for kind, files in (("secrets", record.spec.secrets), ("configs", record.spec.configs)):
        if files:
            document[kind] = {name: {"file": f"./{kind}/{name}"} for name in files}
    header = f"# {record.id}: exported by CRANE. Run with: docker compose up -d\n" + "".join(
        f"# note: {line}\n" for line in export_caveats(record)
    )
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def export_caveats(record: AppRecord) -> list[str]:
    """What runs differently under Compose than on CRANE, said at the top of the export."""
    caveats = []
    for service in record.spec.services:
        if service.volume_scaling == "per_replica" and service.writable_volumes and service.replicas > 1:
            caveats.append(
                f"{service.name} has a volume per replica on CRANE; under Compose its {service.replicas} "
                f"replicas share {', '.join(service.writable_volumes)}"
            )
        if service.build is not None:
            caveats.append(f"{service.name} is built from ./{service.name}: put its source there")
    if record.spec.seeds:
        caveats.append(f"the volumes {', '.join(sorted(record.spec.seeds))} started with uploaded folders on CRANE")
    return caveats
