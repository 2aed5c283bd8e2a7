"""Render an app as a portable docker-compose.yml: the same services, replicas, limits and
health checks the deployer runs, plus a Traefik router so load balancing comes along.

Nothing of this machine goes in: no host paths, no suite names, no secrets. The router's image
and published port are Compose variables (CRANE_TRAEFIK_IMAGE, CRANE_HTTP_PORT) with defaults
that work wherever the official image can be pulled.
"""

from __future__ import annotations

from typing import Any

import yaml

from crane_shared.appspec import AppRecord, ServiceSpec, container_port, parse_volume

from .container_spec import DROPPED_CAPABILITIES, Limits

ROUTER_SERVICE = "crane-router"
DEFAULT_TRAEFIK_IMAGE = "traefik:v3.1"
EXPORT_LABEL = "crane.export"


def _escape(value: str) -> str:
    """Compose interpolates $VAR in values; a literal $ must be written $$."""
    return value.replace("$", "$$")


def _service(record: AppRecord, service: ServiceSpec, limits: Limits) -> dict[str, Any]:
    out: dict[str, Any] = {"image": service.image}
    if service.command is not None:
        out["command"] = (
            [_escape(c) for c in service.command] if isinstance(service.command, list) else _escape(service.command)
        )
    if service.environment:
        out["environment"] = {k: _escape(v) for k, v in service.environment.items()}
    declared = [container_port(p) for p in [*service.ports, *service.expose]]
    if declared:
        out["expose"] = [str(p) for p in dict.fromkeys(declared)]
    if service.volumes:
        out["volumes"] = list(service.volumes)
    labels = {k: _escape(v) for k, v in service.labels.items()}
    port = service.routed_port
    if port:
        router = f"{record.id}-{service.name}"
        hosts = [f"{service.name}.{record.id}.localhost"]
        if record.spec.routed_service == service:
            hosts.insert(0, f"{record.id}.localhost")
        labels.update(
            {
                "traefik.enable": "true",
                EXPORT_LABEL: record.id,
                f"traefik.http.routers.{router}.rule": " || ".join(f"Host(`{h}`)" for h in hosts),
                f"traefik.http.routers.{router}.entrypoints": "web",
                f"traefik.http.services.{router}.loadbalancer.server.port": str(port),
            }
        )
    if labels:
        out["labels"] = labels
    if service.healthcheck:
        check = service.healthcheck
        out["healthcheck"] = {
            "test": check.test,
            "interval": check.interval,
            "timeout": check.timeout,
            "retries": check.retries,
            "start_period": check.start_period,
        }
    cpus, memory = service.limits(limits.cpus, limits.memory)
    out["deploy"] = {
        "replicas": record.spec.replicas,
        "resources": {
            "limits": {
                "cpus": str(cpus),
                "memory": memory,
                "pids": limits.pids,
            }
        },
    }
    out["security_opt"] = ["no-new-privileges:true"]
    out["cap_drop"] = [c for c in DROPPED_CAPABILITIES if c not in service.cap_add]
    # Privileges the admission policy allowed travel with the app, exactly as they were granted.
    if service.cap_add:
        out["cap_add"] = list(service.cap_add)
    if service.privileged:
        out["privileged"] = True
    for key in ("network_mode", "pid", "ipc"):
        if getattr(service, key):
            out[key] = getattr(service, key)
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
    services = {s.name: _service(record, s, limits) for s in record.spec.services}
    if record.spec.routed_service:
        services[ROUTER_SERVICE] = _router(record.id)
    # CRANE's own settings ride along as an extension that Compose ignores and CRANE reads back.
    crane = {
        "name": record.spec.name,
        "replicas": record.spec.replicas,
        "min_scale": record.spec.min_scale,
        "max_scale": record.spec.max_scale,
        "autoscaling": record.spec.autoscaling.model_dump(exclude_none=True),
    }
    document: dict[str, Any] = {"name": record.id, "x-crane": crane, "services": services}
    volumes = sorted(
        {v.source for s in record.spec.services for v in map(parse_volume, s.volumes) if not v.is_host_path}
    )
    if volumes:
        document["volumes"] = {v: {} for v in volumes}
    header = f"# {record.id}: exported by CRANE. Run with: docker compose up -d\n"
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
