"""Read a Compose file (YAML) into an AppSpec. CRANE's own settings live under the ``x-crane``
extension, at the top level (name, replicas, min_scale, max_scale) and per service (http_port).

Anything CRANE cannot honour is refused with the path of the offending field rather than
silently dropped, so what runs is what the file says.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from crane_shared.appspec import AppSpec

TOP_LEVEL_KEYS = {"version", "name", "services", "volumes", "x-crane"}
APP_SETTINGS = {"name", "replicas", "min_scale", "max_scale", "autoscaling"}
SERVICE_KEYS = {
    "image", "command", "environment", "ports", "expose", "volumes", "labels", "healthcheck", "deploy", "x-crane",
    "security_opt", "cap_drop", "cap_add", "privileged", "network_mode", "pid", "ipc",
}  # fmt: skip
# Passed to the spec as they are; the admission policy decides whether they are allowed.
PRIVILEGE_KEYS = ("cap_add", "privileged", "network_mode", "pid", "ipc")
# What CRANE adds to every export and sets up again itself on import.
ROUTER_SERVICE = "crane-router"
MANAGED_LABEL_PREFIXES = ("traefik.", "crane.", "com.docker.")
ALLOWED_SECURITY_OPTS = {"no-new-privileges:true", "no-new-privileges"}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "disable"}
MAX_COMPOSE_BYTES = 256 * 1024

Loc = tuple[str | int, ...]


class ComposeError(ValueError):
    """Problems found in a compose file, each as (path, message)."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        self.problems = problems


def _mapping(value: Any, loc: Loc, problems: list[tuple[Loc, str]]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append((loc, "must be a mapping"))
        return {}
    return value


def _unknown(keys: Any, allowed: set[str], loc: Loc, problems: list[tuple[Loc, str]]) -> None:
    for key in keys:
        if key not in allowed:
            problems.append(((*loc, key), f"not supported by CRANE (supported: {', '.join(sorted(allowed))})"))


def _service(
    name: str, body: dict[str, Any], loc: Loc, problems: list[tuple[Loc, str]]
) -> tuple[dict[str, Any], int | None]:
    _unknown(body, SERVICE_KEYS, loc, problems)
    service: dict[str, Any] = {"name": name}
    for key in ("image", "command", "environment", "ports", "expose", "volumes", *PRIVILEGE_KEYS):
        if key in body:
            service[key] = body[key]
    if "labels" in body:
        labels = body["labels"]
        service["labels"] = (
            {k: v for k, v in labels.items() if not str(k).startswith(MANAGED_LABEL_PREFIXES)}
            if isinstance(labels, dict)
            else labels
        )
    # Options that only take privileges away are accepted: CRANE applies them to every replica.
    for option in body.get("security_opt") or []:
        if option not in ALLOWED_SECURITY_OPTS:
            problems.append(((*loc, "security_opt"), f"{option!r} is not allowed (only no-new-privileges)"))
    if "healthcheck" in body:
        check = _mapping(body["healthcheck"], (*loc, "healthcheck"), problems)
        _unknown(check, HEALTHCHECK_KEYS, (*loc, "healthcheck"), problems)
        if not check.get("disable"):
            service["healthcheck"] = {k: v for k, v in check.items() if k != "disable"}
    deploy = _mapping(body.get("deploy"), (*loc, "deploy"), problems)
    _unknown(deploy, {"replicas", "resources"}, (*loc, "deploy"), problems)
    resources = _mapping(deploy.get("resources"), (*loc, "deploy", "resources"), problems)
    _unknown(resources, {"limits", "reservations"}, (*loc, "deploy", "resources"), problems)
    limits = _mapping(resources.get("limits"), (*loc, "deploy", "resources", "limits"), problems)
    _unknown(limits, {"cpus", "memory", "pids"}, (*loc, "deploy", "resources", "limits"), problems)
    if limits:
        service["resources"] = {k: limits[k] for k in ("cpus", "memory") if k in limits}
    extension = _mapping(body.get("x-crane"), (*loc, "x-crane"), problems)
    _unknown(extension, {"http_port"}, (*loc, "x-crane"), problems)
    if "http_port" in extension:
        service["http_port"] = extension["http_port"]
    replicas = deploy.get("replicas")
    return service, replicas if isinstance(replicas, int) else None


def parse_compose(text: str | bytes) -> AppSpec:
    """The AppSpec a compose document describes; raises ComposeError naming each bad field."""
    if len(text) > MAX_COMPOSE_BYTES:
        raise ComposeError([((), f"the file is larger than {MAX_COMPOSE_BYTES} bytes")])
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ComposeError([((), f"not valid YAML: {exc}")]) from None
    problems: list[tuple[Loc, str]] = []
    document = _mapping(document, (), problems)
    _unknown(document, TOP_LEVEL_KEYS, (), problems)
    settings = _mapping(document.get("x-crane"), ("x-crane",), problems)
    _unknown(settings, APP_SETTINGS, ("x-crane",), problems)
    services_in = _mapping(document.get("services"), ("services",), problems)
    if not services_in:
        problems.append((("services",), "at least one service is required"))
    services, names, replicas = [], [], []
    for name, body in services_in.items():
        if name == ROUTER_SERVICE:
            continue  # the router of an exported file: CRANE routes through its own Traefik
        service, count = _service(str(name), _mapping(body, ("services", name), problems), ("services", name), problems)
        services.append(service)
        names.append(str(name))
        if count is not None:
            replicas.append(count)
    if problems:
        raise ComposeError(problems)
    app: dict[str, Any] = {"name": settings.get("name") or document.get("name"), "services": services}
    if "replicas" in settings or replicas:
        app["replicas"] = settings.get("replicas", max(replicas or [1]))
    for key in ("min_scale", "max_scale", "autoscaling"):
        if key in settings:
            app[key] = settings[key]
    if app["name"] is None:
        raise ComposeError([(("x-crane", "name"), "the app needs a name (x-crane.name or name)")])
    try:
        return AppSpec.model_validate(app)
    except ValidationError as exc:
        raise ComposeError([(_compose_loc(err["loc"], names), err["msg"]) for err in exc.errors()]) from None


def _compose_loc(loc: tuple[Any, ...], names: list[str]) -> Loc:
    """Map AppSpec's services.<index> back to the compose file's services.<name>."""
    if len(loc) >= 2 and loc[0] == "services" and isinstance(loc[1], int) and loc[1] < len(names):
        return ("services", names[loc[1]], *loc[2:])
    if loc and loc[0] in APP_SETTINGS:
        return ("x-crane", *loc)
    return tuple(loc)
