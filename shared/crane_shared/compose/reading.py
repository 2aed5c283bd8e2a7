"""Reading a compose file into an app: interpolation, every key honoured, warned about or
refused naming it (keys.py has the table), and the limits that stop hostile files."""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from ..appspec import AppSpec
from ..servicespec import DEFAULT_NETWORK
from . import keys
from .interpolation import InterpolationError, interpolate
from .writing import EXPORT_LABEL, MANAGED_LABEL_PREFIXES, ROUTER_SERVICE

MAX_COMPOSE_BYTES = 256 * 1024
# A YAML alias bomb is small on disk and huge once walked; real files are far below these.
MAX_NODES = 20_000
MAX_DEPTH = 32
ALLOWED_SECURITY_OPTS = {"no-new-privileges:true", "no-new-privileges"}

Loc = tuple[str | int, ...]


class ComposeError(ValueError):
    """Problems found in a compose file, each as (path, message)."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        self.problems = problems


@dataclass
class ComposeApp:
    """What a compose file describes: the app, what CRANE accepted without applying, and the
    content of configs given inline (file id -> bytes), to be stored like uploaded ones."""

    spec: AppSpec
    warnings: list[str] = field(default_factory=list)
    inline_files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class _Reading:
    problems: list[tuple[Loc, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Uploaded contents of bind-mounted folders (path -> context digest), and the app volumes
    # they seed (volume -> digest).
    binds: dict[str, str] = field(default_factory=dict)
    seeds: dict[str, str] = field(default_factory=dict)

    def refuse(self, loc: Loc, message: str) -> None:
        self.problems.append((loc, message))

    def warn(self, loc: Loc, message: str) -> None:
        self.warnings.append(f"{'.'.join(map(str, loc))}: {message}")

    def mapping(self, value: Any, loc: Loc) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.refuse(loc, "must be a mapping")
            return {}
        return value


def load_bounded(text: str | bytes) -> Any:
    """The YAML document of a compose file; refuses invalid YAML, alias bombs and deep nesting."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ComposeError([((), f"not valid YAML: {exc}")]) from None
    except RecursionError:
        raise ComposeError([((), "the file is nested too deeply")]) from None
    nodes = 0

    def walk(value: Any, depth: int, loc: Loc) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            raise ComposeError(
                [(loc, f"the file is too large or too deep (over {MAX_NODES} values or {MAX_DEPTH} levels)")]
            )
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, depth + 1, (*loc, str(key)))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, depth + 1, (*loc, index))

    walk(document, 0, ())
    return document


def _interpolated(document: Any, variables: dict[str, str], reading: _Reading) -> Any:
    """The document with every string value interpolated (``$$`` is a dollar sign)."""
    unset: set[str] = set()

    def walk(value: Any, loc: Loc) -> Any:
        if isinstance(value, str):
            try:
                return interpolate(value, variables, unset)
            except InterpolationError as exc:
                raise ComposeError([(loc, str(exc))]) from None
        if isinstance(value, dict):
            return {k: walk(v, (*loc, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        return value

    result = walk(document, ())
    for name in sorted(unset):
        reading.warn(("variables",), f"{name} is not set; a blank string is used (as Compose does)")
    return result


def _classify(body: dict[str, Any], loc: Loc, reading: _Reading) -> None:
    for key in body:
        name = str(key)
        if name in keys.HONOURED_SERVICE_KEYS or name == "x-crane":
            continue
        if name in keys.WARNED_SERVICE_KEYS:
            reading.warn((*loc, name), keys.WARNED_SERVICE_KEYS[name])
        elif name in keys.REFUSED_SERVICE_KEYS:
            reading.refuse((*loc, name), f"not supported by CRANE: {keys.REFUSED_SERVICE_KEYS[name]}")
        elif name.startswith("x-"):
            reading.warn((*loc, name), "extension field, ignored")
        else:
            reading.refuse((*loc, name), "not a Compose service key")


def _sub_keys(body: dict[str, Any], honoured: set[str], warned: dict[str, str], loc: Loc, reading: _Reading) -> None:
    for key in body:
        if key in warned:
            reading.warn((*loc, key), warned[key])
        elif key not in honoured:
            reading.refuse((*loc, key), f"not supported by CRANE (supported: {', '.join(sorted(honoured))})")


def _deploy(service: dict[str, Any], body: dict[str, Any], loc: Loc, reading: _Reading) -> None:
    deploy = reading.mapping(body.get("deploy"), (*loc, "deploy"))
    _sub_keys(deploy, keys.DEPLOY_HONOURED, keys.DEPLOY_WARNED, (*loc, "deploy"), reading)
    if deploy.get("mode", "replicated") != "replicated":
        reading.refuse((*loc, "deploy", "mode"), "only replicated services run on CRANE")
    if "replicas" in deploy:
        service["replicas"] = deploy["replicas"]
    resources = reading.mapping(deploy.get("resources"), (*loc, "deploy", "resources"))
    _sub_keys(resources, keys.RESOURCES_HONOURED, keys.RESOURCES_WARNED, (*loc, "deploy", "resources"), reading)
    limits = reading.mapping(resources.get("limits"), (*loc, "deploy", "resources", "limits"))
    _sub_keys(limits, keys.LIMITS_KEYS, {}, (*loc, "deploy", "resources", "limits"), reading)
    if limits:
        service["resources"] = {k: limits[k] for k in ("cpus", "memory") if k in limits}


def _build(name: str, body: dict[str, Any], context: str | None, loc: Loc, reading: _Reading) -> dict[str, Any] | None:
    """The service's build from its uploaded context (None: it runs its image)."""
    if "build" not in body:
        if context is not None:
            reading.refuse((f"build.{name}",), f"service {name!r} has no build: key in the compose file")
        return None
    if context is None:
        if "image" in body:
            reading.warn((*loc, "build"), f"no context was uploaded (part build.{name}): the image is used")
        else:
            reading.refuse((*loc, "build"), f"upload the service's context as the multipart part build.{name}")
        return None
    raw = body["build"]
    options = {"context": raw} if isinstance(raw, str) else reading.mapping(raw, (*loc, "build"))
    _sub_keys(options, keys.BUILD_HONOURED, keys.BUILD_WARNED, (*loc, "build"), reading)
    build: dict[str, Any] = {"context": context}
    build.update({key: options[key] for key in ("dockerfile", "args", "target") if key in options})
    if "network" in options:
        network = str(options["network"])
        if network in ("default", "bridge"):
            build["network"] = "default"
        elif network != "none":
            reading.refuse(
                (*loc, "build", "network"),
                "a build has no network (none, CRANE's default) or the Engine's default one (default)",
            )
    return build


def _volume_slug(path: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", path.lower()).strip("-.")[:60] or "root"


def _bind_volume(source: str, loc: Loc, reading: _Reading) -> str | None:
    """The app volume a relative bind mount (./src) becomes: the project folder is not on this
    machine, so the volume starts with the folder's uploaded content (part bind.<path>), or empty."""
    path = posixpath.normpath(source)
    if path == ".." or path.startswith("../") or source.startswith("~"):
        reading.refuse(loc, f"{source!r} is outside the project folder")
        return None
    name = "bind-" + _volume_slug(path)
    if path in reading.binds:
        reading.seeds[name] = reading.binds[path]  # the folder's uploaded content fills the new volume
    else:
        reading.warn(
            loc,
            f"{source!r} is a folder of the uploader's machine: it becomes the app volume {name!r}, empty "
            f"(upload its content as the part bind.{path} to fill it)",
        )
    return name


def _volumes(service: dict[str, Any], entries: Any, loc: Loc, reading: _Reading) -> None:
    """Compose's short and long volume syntax as CRANE's NAME:/path[:ro] (tmpfs to tmpfs)."""
    if not isinstance(entries, list):
        service["volumes"] = entries  # the model says what is wrong with it
        return
    volumes: list[Any] = []
    for index, entry in enumerate(entries):
        here = (*loc, "volumes", index)
        if isinstance(entry, dict):
            kind, source, target = entry.get("type", "volume"), entry.get("source"), entry.get("target")
            if kind == "volume" and source is None and isinstance(target, str):
                entry = {**entry, "source": "anon-" + _volume_slug(target)}  # as the short form below
                source = entry["source"]
                reading.warn(here, f"the anonymous volume {target!r} becomes the app volume {source!r}")
            if kind == "tmpfs":
                present = service.get("tmpfs", [])
                service["tmpfs"] = [*([present] if isinstance(present, str) else present), str(target)]
                continue
            if kind not in ("volume", "bind") or not isinstance(source, str) or not isinstance(target, str):
                reading.refuse(here, "a volume needs type volume or bind, a source and a target")
                continue
            mode = ":ro" if entry.get("read_only") else ""
            extra = set(entry) - {"type", "source", "target", "read_only"}
            if extra:
                reading.warn(here, f"options {sorted(extra)} are not applied")
        elif isinstance(entry, str) and entry.count(":") in (1, 2):
            source, target, *rest = entry.split(":")
            mode = f":{rest[0]}" if rest else ""
        elif isinstance(entry, str) and entry.startswith("/"):
            # An anonymous volume (Compose gives each container a fresh one): a volume of the app's.
            source, target, mode = "anon-" + _volume_slug(entry), entry, ""
            reading.warn(here, f"the anonymous volume {entry!r} becomes the app volume {source!r}")
        else:
            volumes.append(entry)  # an anonymous volume or a malformed entry: the model refuses it
            continue
        if source.startswith((".", "~")):
            named = _bind_volume(source, here, reading)
            if named is None:
                continue
            source = named
        volumes.append(f"{source}:{target}{mode}")
    service["volumes"] = volumes


def _ports(entries: Any, loc: Loc, reading: _Reading) -> Any:
    """Compose's long port syntax ({target, published, host_ip, protocol}) as the short form."""
    if not isinstance(entries, list):
        return entries  # the model says what is wrong with it
    ports: list[Any] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            ports.append(entry)
            continue
        here = (*loc, "ports", index)
        extra = sorted(set(entry) - {"target", "published", "host_ip", "protocol", "mode"})
        if extra:
            reading.warn(here, f"{', '.join(extra)}: not applied")
        if entry.get("mode", "ingress") != "ingress":
            reading.warn(here, "mode: CRANE publishes through its router; host mode is not applied")
        short = str(entry.get("target", ""))
        if entry.get("published") not in (None, ""):
            short = f"{entry['published']}:{short}"
            if entry.get("host_ip"):
                short = f"{entry['host_ip']}:{short}"
        if entry.get("protocol") not in (None, "tcp"):
            short = f"{short}/{entry['protocol']}"
        ports.append(short)
    return ports


def _service_networks(value: Any, loc: Loc, reading: _Reading) -> Any:
    """A service's networks with their aliases (other per-network options are named in a warning)."""
    if not isinstance(value, dict):
        return value  # a list of names, or something the model refuses
    networks: dict[str, Any] = {}
    for name, options in value.items():
        options = reading.mapping(options, (*loc, "networks", name))
        extra = sorted(set(options) - keys.SERVICE_NETWORK_HONOURED)
        if extra:
            reading.warn((*loc, "networks", name), f"{', '.join(extra)}: not applied (CRANE addresses replicas itself)")
        networks[str(name)] = {k: v for k, v in options.items() if k in keys.SERVICE_NETWORK_HONOURED}
    return networks


def _app_networks(document: dict[str, Any], reading: _Reading) -> dict[str, Any]:
    """The app's own networks (its default one is always there)."""
    networks: dict[str, Any] = {}
    for name, options in reading.mapping(document.get("networks"), ("networks",)).items():
        options = reading.mapping(options, ("networks", name))
        if options.get("external"):
            reading.refuse(("networks", name, "external"), "an app cannot join a network it does not own")
            continue
        if options.get("driver", "bridge") != "bridge":
            reading.refuse(("networks", name, "driver"), "CRANE's app networks are bridge networks")
            continue
        extra = sorted(set(options) - keys.NETWORK_HONOURED)
        if extra:
            reading.warn(("networks", name), f"{', '.join(extra)}: not applied (CRANE gives each network its subnet)")
        if name != DEFAULT_NETWORK:
            networks[str(name)] = {"internal": bool(options.get("internal", False))}
    return networks


def _service(name: str, body: dict[str, Any], context: str | None, loc: Loc, reading: _Reading) -> dict[str, Any]:
    _classify(body, loc, reading)
    service: dict[str, Any] = {"name": name}
    build = _build(name, body, context, loc, reading)
    if build is not None:
        service["build"] = build
    copied = keys.HONOURED_SERVICE_KEYS - {"labels", "healthcheck", "deploy", "security_opt", "build"}
    service.update({key: body[key] for key in copied - {"volumes", "networks", "ports"} if key in body})
    if "ports" in body:
        service["ports"] = _ports(body["ports"], loc, reading)
    if "volumes" in body:
        _volumes(service, body["volumes"], loc, reading)
    if "networks" in body:
        service["networks"] = _service_networks(body["networks"], loc, reading)
    if "labels" in body:
        labels = body["labels"]
        if isinstance(labels, list):  # Compose's list form: ["key=value", ...]
            labels = dict(str(item).partition("=")[::2] for item in labels)
        if isinstance(labels, dict):
            managed = sorted(str(k) for k in labels if str(k).startswith(MANAGED_LABEL_PREFIXES))
            if managed and EXPORT_LABEL not in labels:  # a file CRANE exported: its own labels, read back silently
                reading.warn((*loc, "labels"), f"{', '.join(managed)}: CRANE sets its own router and crane.* labels")
            labels = {k: v for k, v in labels.items() if not str(k).startswith(MANAGED_LABEL_PREFIXES)}
        service["labels"] = labels
    # Options that only take privileges away are accepted: CRANE applies them to every replica.
    for option in body.get("security_opt") or []:
        if option not in ALLOWED_SECURITY_OPTS:
            reading.refuse((*loc, "security_opt"), f"{option!r} is not allowed (only no-new-privileges)")
    if "healthcheck" in body:
        check = reading.mapping(body["healthcheck"], (*loc, "healthcheck"))
        _sub_keys(check, keys.HEALTHCHECK_KEYS, {}, (*loc, "healthcheck"), reading)
        if not check.get("disable"):
            service["healthcheck"] = {k: v for k, v in check.items() if k not in ("disable", "start_interval")}
    dependencies = body.get("depends_on")
    if isinstance(dependencies, dict):
        for dependency, options in dependencies.items():
            if isinstance(options, dict) and options.get("restart"):
                reading.warn((*loc, "depends_on", dependency, "restart"), "dependents are not restarted with it")
    _deploy(service, body, loc, reading)
    extension = reading.mapping(body.get("x-crane"), (*loc, "x-crane"))
    _sub_keys(extension, keys.SERVICE_SETTINGS, {}, (*loc, "x-crane"), reading)
    service.update(extension)
    return service


def _top_level(document: dict[str, Any], reading: _Reading) -> None:
    for key in document:
        name = str(key)
        if name in keys.TOP_LEVEL_HONOURED or name.startswith("x-"):
            continue  # top-level x- fields hold YAML anchors; Compose ignores them
        if name in keys.TOP_LEVEL_WARNED:
            reading.warn((name,), keys.TOP_LEVEL_WARNED[name])
        elif name in keys.TOP_LEVEL_REFUSED:
            reading.refuse((name,), f"not supported by CRANE: {keys.TOP_LEVEL_REFUSED[name]}")
        else:
            reading.refuse((name,), "not a Compose top-level key")
    for volume, options in reading.mapping(document.get("volumes"), ("volumes",)).items():
        if isinstance(options, dict) and options.get("external"):
            reading.refuse(("volumes", volume, "external"), "an app cannot mount a volume it does not own")
        elif options:
            reading.warn(("volumes", volume), "volume options are not applied; CRANE creates a local volume")


def _files(
    document: dict[str, Any], kind: str, uploaded: dict[str, str], inline: dict[str, bytes], reading: _Reading
) -> dict[str, str]:
    """name -> file id of the top-level secrets or configs: each must have its content uploaded
    (part <kind>.<name>) or, for a config, given inline."""
    ids: dict[str, str] = {}
    for name, options in reading.mapping(document.get(f"{kind}s"), (f"{kind}s",)).items():
        options = reading.mapping(options, (f"{kind}s", name))
        part = f"{kind}.{name}"
        if part in uploaded:
            ids[str(name)] = uploaded[part]
        elif kind == "config" and isinstance(options.get("content"), str):
            content = options["content"].encode()
            file_id = "f-" + hashlib.sha256(content).hexdigest()[:32]
            inline[file_id] = content
            ids[str(name)] = file_id
        elif options.get("external"):
            reading.refuse((f"{kind}s", name, "external"), f"an app cannot use a {kind} it does not own")
        else:
            reading.refuse((f"{kind}s", name), f"upload its content as the multipart part {part}")
    for part in sorted(uploaded):
        if part.startswith(f"{kind}.") and part.removeprefix(f"{kind}.") not in ids:
            reading.refuse((part,), f"the compose file declares no {kind} {part.removeprefix(kind + '.')!r}")
    return ids


def parse_compose(
    text: str | bytes,
    variables: dict[str, str] | None = None,
    contexts: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
    default_name: str | None = None,
    binds: dict[str, str] | None = None,
) -> ComposeApp:
    """The app a compose document describes; raises ComposeError naming each bad field.
    ``contexts`` maps a service to the digest of its uploaded build context, ``files`` an
    uploaded part (secret.<name>, config.<name>) to the id its content is kept under;
    ``default_name`` names an app whose file has no name (Compose takes the folder's); ``binds``
    maps a relative bind-mounted path (normalised: ``src`` for ``./src``) to the digest of its
    uploaded content."""
    contexts, files = contexts or {}, files or {}
    if len(text) > MAX_COMPOSE_BYTES:
        raise ComposeError([((), f"the file is larger than {MAX_COMPOSE_BYTES} bytes")])
    raw = load_bounded(text)
    reading = _Reading(binds={posixpath.normpath(path): digest for path, digest in (binds or {}).items()})
    document = reading.mapping(_interpolated(raw, variables or {}, reading), ())
    _top_level(document, reading)
    settings = reading.mapping(document.get("x-crane"), ("x-crane",))
    _sub_keys(settings, keys.APP_SETTINGS, {}, ("x-crane",), reading)
    services_in = reading.mapping(document.get("services"), ("services",))
    services, names = [], []
    for name, body in services_in.items():
        if name == ROUTER_SERVICE:
            continue  # the router of an exported file: CRANE routes through its own Traefik
        body = reading.mapping(body, ("services", name))
        if body.get("profiles"):
            reading.warn(
                ("services", name, "profiles"), "not started: Compose starts a service with profiles only when asked"
            )
            continue
        services.append(_service(str(name), body, contexts.get(str(name)), ("services", name), reading))
        names.append(str(name))
    for extra in sorted(set(reading.binds) - {p for p in reading.binds if "bind-" + _volume_slug(p) in reading.seeds}):
        reading.refuse((f"bind.{extra}",), f"no service bind-mounts ./{extra}")
    for extra in sorted(set(contexts) - {str(n) for n in services_in}):
        reading.refuse((f"build.{extra}",), f"the compose file has no service {extra!r}")
    if not services and not reading.problems:
        reading.refuse(("services",), "at least one service is required")
    if reading.problems:
        raise ComposeError(reading.problems)
    inline: dict[str, bytes] = {}
    secrets = _files(document, "secret", files, inline, reading)
    configs = _files(document, "config", files, inline, reading)
    networks = _app_networks(document, reading)
    if reading.problems:
        raise ComposeError(reading.problems)
    app: dict[str, Any] = {
        "name": settings.get("name") or document.get("name") or default_name,
        "services": services,
        "secrets": secrets,
        "configs": configs,
        "networks": networks,
        "seeds": reading.seeds,
    }
    app.update({key: settings[key] for key in keys.APP_SETTINGS - {"name"} if key in settings})
    if app["name"] is None:
        raise ComposeError([(("x-crane", "name"), "the app needs a name (name, x-crane.name, or ?name= on upload)")])
    try:
        spec = AppSpec.model_validate(app)
    except ValidationError as exc:
        raise ComposeError([(_compose_loc(err["loc"], names), err["msg"]) for err in exc.errors()]) from None
    return ComposeApp(spec, reading.warnings, inline)


def _compose_loc(loc: tuple[Any, ...], names: list[str]) -> Loc:
    """Map AppSpec's services.<index> back to the compose file's services.<name>."""
    if len(loc) >= 2 and loc[0] == "services" and isinstance(loc[1], int) and loc[1] < len(names):
        return ("services", names[loc[1]], *loc[2:])
    if loc and loc[0] in keys.APP_SETTINGS:
        return ("x-crane", *loc)
    return tuple(loc)
