"""A project folder as CRANE's upload: the compose file, and the local files it names (each
service's build context, file-based secrets and configs, env files, relative bind mounts, the
project's .env). Paths are read as Docker Compose reads them, relative to the compose file's
folder, with ``${VAR}`` filled from .env (CRANE's Compose sees .env and nothing of this shell's
environment, so neither does this). CRANE's own Compose then reads the file itself."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import compose_dotenv, compose_interpolation  # the services' own readers (links to shared/)
from .packing import pack

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


class ProjectError(ValueError):
    """The project cannot be uploaded; the message names the file or field."""


@dataclass
class Part:
    name: str  # the multipart field: compose, build.<service>, secret.<name>, ...
    filename: str
    data: bytes
    note: str = ""  # what it is, for progress output


@dataclass
class Project:
    folder: Path
    compose_file: Path
    name: str
    parts: list[Part] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(p.data) for p in self.parts)


def find_compose(folder: Path, given: str | None) -> Path:
    if given:
        path = (folder / given).resolve()
        if not path.is_file():
            raise ProjectError(f"{given}: no such compose file")
        return path
    for name in COMPOSE_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ProjectError(f"no compose file here ({', '.join(COMPOSE_NAMES)}); name one with -f")


def project_name(document: dict[str, Any], folder: Path, given: str | None) -> str:
    """--name, else the file's name:, else the folder's name as Compose would make it."""
    if given:
        return given
    if isinstance(document.get("name"), str) and document["name"]:
        return str(document["name"])
    name = re.sub(r"[^a-z0-9_-]", "", folder.resolve().name.lower()).lstrip("_-")
    if not name:
        raise ProjectError("the folder's name makes no app name; give one with --name")
    return name


def interpolate(text: str, values: dict[str, str]) -> str:
    """``text`` with its variables filled as Docker Compose fills them (an unset one is "")."""
    try:
        return compose_interpolation.interpolate(text, values, set())
    except compose_interpolation.InterpolationError as exc:
        raise ProjectError(str(exc)) from None


def without_compose_settings(text: str, say: Callable[[str], None]) -> str:
    """The .env without Compose's own settings (COMPOSE_PROJECT_NAME, COMPOSE_FILE, ...): CRANE
    reads the one compose file it is sent and refuses a .env that points Compose elsewhere."""
    kept, dropped = compose_dotenv.without_compose_settings(text)
    for number, key in dropped:
        say(f".env line {number}: {key} is a setting of Docker Compose itself; not sent")
    return kept


def read_project(
    folder: Path, compose: str | None = None, name: str | None = None, say: Callable[[str], None] = lambda _: None
) -> Project:
    compose_file = find_compose(folder, compose)
    base = compose_file.parent
    text = compose_file.read_text()
    dotenv_path = base / ".env"
    dotenv = dotenv_path.read_text() if dotenv_path.is_file() else None
    values = compose_dotenv.read_dotenv(dotenv or "")
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ProjectError(f"{compose_file.name}: not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ProjectError(f"{compose_file.name}: a compose file is a mapping")
    project = Project(folder, compose_file, project_name(document, base, name))
    project.parts.append(Part("compose", compose_file.name, text.encode(), "compose file"))
    if dotenv is not None:
        dotenv = without_compose_settings(dotenv, say)
        project.parts.append(Part("env_file..env", ".env", dotenv.encode(), ".env (fills ${VAR})"))
    reader = _Reader(base, values, project, say)
    services = document.get("services") or {}
    if not isinstance(services, dict):
        raise ProjectError("services: a mapping of services")
    for service, body in services.items():
        if isinstance(body, dict):
            reader.service(str(service), body)
    for kind in ("secrets", "configs"):
        for key, entry in (document.get(kind) or {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                reader.file(f"{kind[:-1]}.{key}", f"{kind}.{key}.file", entry["file"])
    return project


@dataclass
class _Reader:
    base: Path
    values: dict[str, str]
    project: Project
    say: Callable[[str], None]
    _env_files: set[str] = field(default_factory=set)
    _binds: set[str] = field(default_factory=set)

    def path(self, raw: str) -> str:
        return interpolate(raw, self.values)

    def local(self, where: str, raw: str) -> Path:
        relative = self.path(raw)
        path = (self.base / relative).resolve()
        if not path.exists():
            raise ProjectError(f"{where}: {relative} does not exist")
        return path

    def service(self, name: str, body: dict[str, Any]) -> None:
        build = body.get("build")
        if build is not None:
            context, dockerfile = (
                (build, None) if isinstance(build, str) else (build.get("context", "."), build.get("dockerfile"))
            )
            folder = self.local(f"services.{name}.build.context", str(context))
            if not folder.is_dir():
                raise ProjectError(f"services.{name}.build.context: {context} is not a folder")
            self.say(f"packing the build context of {name} ({self.path(str(context))})")
            packed = pack(folder, str(dockerfile) if dockerfile else None)
            note = f"build context of {name}: {packed.files} files, {_size(packed.size)}"
            self.project.parts.append(Part(f"build.{name}", f"{name}.tar.gz", packed.data, note))
        env_file = body.get("env_file")
        for entry in [env_file] if isinstance(env_file, str | dict) else env_file or []:
            path, required = (
                (entry, True) if isinstance(entry, str) else (entry.get("path"), entry.get("required", True))
            )
            if isinstance(path, str):
                self.env_file(name, path, bool(required))
        for volume in body.get("volumes") or []:
            source = _bind_source(volume)
            if source is not None:
                self.bind(name, source)

    def env_file(self, service: str, raw: str, required: bool) -> None:
        relative = posixpath.normpath(self.path(raw))
        if relative in self._env_files:
            return
        path = self.base / relative
        if not path.is_file():
            if required:
                raise ProjectError(f"services.{service}.env_file: {raw} does not exist")
            return
        self._env_files.add(relative)
        self.project.parts.append(Part(f"env_file.{raw}", path.name, path.read_bytes(), f"env file {raw}"))

    def file(self, part: str, where: str, raw: str) -> None:
        path = self.local(where, raw)
        if not path.is_file():
            raise ProjectError(f"{where}: {raw} is not a file")
        self.project.parts.append(
            Part(part, path.name, path.read_bytes(), f"{part.split('.')[0]} {part.split('.', 1)[1]}")
        )

    def bind(self, service: str, raw: str) -> None:
        relative = posixpath.normpath(self.path(raw))
        if relative in self._binds:
            return
        path = self.base / relative
        if not path.is_dir():
            self.project.warnings.append(
                f"services.{service}.volumes: {raw} is not a folder here; its volume starts empty"
            )
            return
        self._binds.add(relative)
        packed = pack(path, honour_dockerignore=False)
        note = f"folder {relative} for {service}: {packed.files} files, {_size(packed.size)}"
        self.project.parts.append(Part(f"bind.{relative}", f"{relative.replace('/', '_')}.tar.gz", packed.data, note))


def _bind_source(volume: Any) -> str | None:
    """A relative bind mount's source (``./src:/app`` or the long form), or None."""
    if isinstance(volume, str):
        source = volume.split(":", 1)[0] if ":" in volume else ""
    elif isinstance(volume, dict) and volume.get("type") == "bind":
        source = str(volume.get("source", ""))
    else:
        return None
    return source if source.startswith(("./", "../")) or source == "." else None


def _size(count: int) -> str:
    amount = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{count} B"
