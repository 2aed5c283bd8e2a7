"""Compose's own reading of a file: ``docker compose config`` interpolates variables, resolves
anchors, ``extends`` and ``env_file``, validates every key against the Compose specification's
schema and writes each in its long form. CRANE's reader (reading.py) then reads that.

Compose runs in an empty scratch folder that holds only the file and the env files uploaded
with it, with an empty environment, and is named the one file to read (``-f``), so what it
makes of the file depends on the upload alone: an uploaded ``compose.override.yaml`` is not
merged, and an uploaded ``.env`` may not hold Compose's own settings (``COMPOSE_FILE``,
``COMPOSE_ENV_FILES``, ...), which would point it at files CRANE never checked.
Before Compose sees the file, it is checked here: bounded in size and depth, and naming no file
outside the upload (env files are uploaded, ``include`` and ``extends.file`` are refused, as
are paths built from variables), so that reading a file never reads the host's files.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .dotenv import dotenv_keys, is_compose_setting
from .keys import (
    HONOURED_SERVICE_KEYS,
    REFUSED_SERVICE_KEYS,
    TOP_LEVEL_HONOURED,
    TOP_LEVEL_REFUSED,
    TOP_LEVEL_WARNED,
    WARNED_SERVICE_KEYS,
)
from .reading import MAX_COMPOSE_BYTES, ComposeError, Loc, load_bounded

COMPOSE_TIMEOUT_SECONDS = 15.0
ENV_FILE_PART = "env_file."
COMPOSE_FILE_NAME = "compose.yaml"  # the one file Compose is told to read (-f): no override, no COMPOSE_FILE
PROJECT_FOLDER = "project"  # the scratch folder's name: Compose's project name when the file has none
# Where the Docker CLI keeps its plugins, when no docker-compose is on PATH.
_PLUGIN_DIRS = (
    "~/.docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
_UNSET = re.compile(r'The \\?"(\w+)\\?" variable is not set')
_WARNING = re.compile(r'level=warning msg="(.*)"$')
_VALIDATION = re.compile(r"validating [^:]+: (\S+) (.+)")
DOTENV = ".env"  # the env file Compose itself reads for interpolation (and for its own settings)


class ComposeUnavailable(RuntimeError):
    """Docker Compose v2 could not be found or run."""


@dataclass
class Normalised:
    """The file as Compose wrote it (CRANE's reader takes it from here) and Compose's warnings."""

    text: str
    warnings: list[str] = field(default_factory=list)


def find_compose(configured: str | None = None) -> str:
    """The docker-compose binary: the configured one, else on PATH, beside this Python (the
    project's virtualenv), or among the Docker CLI's plugins."""
    candidates: list[str | None] = [configured] if configured else []
    if not configured:
        candidates += [shutil.which("docker-compose"), str(Path(sys.executable).parent / "docker-compose")]
        candidates += [str(Path(folder).expanduser() / "docker-compose") for folder in _PLUGIN_DIRS]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and Path(candidate).is_file():
            return candidate
    raise ComposeUnavailable("Docker Compose v2 was not found (set CRANE_COMPOSE_BINARY to the docker-compose binary)")


def _env_file_paths(value: Any) -> list[tuple[int, Any, bool]]:
    """(index, path, required) of each entry of a service's env_file."""
    entries = value if isinstance(value, list) else [value]
    found = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict):
            found.append((index, entry.get("path"), entry.get("required", True) is not False))
        else:
            found.append((index, entry, True))
    return found


def upload_path(path: str) -> str | None:
    """A path inside the upload, normalised (``./conf/a.env`` -> ``conf/a.env``), or None when
    it leaves it (absolute, ``..``, ``~``)."""
    if not path or path.startswith(("/", "~")) or "\\" in path or "\0" in path:
        return None
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../") or normal == ".":
        return None
    return normal


def _check_references(document: Any, env_files: dict[str, bytes]) -> list[tuple[Loc, str]]:
    """Problems with the files the document names: each must be one of the upload's."""
    problems: list[tuple[Loc, str]] = []
    if not isinstance(document, dict):
        return problems
    if "include" in document:
        problems.append((("include",), "not supported by CRANE: a file cannot include others"))
    services = document.get("services")
    used: set[str] = set()
    for name, body in services.items() if isinstance(services, dict) else []:
        if not isinstance(body, dict):
            continue
        loc: Loc = ("services", str(name))
        extends = body.get("extends")
        if isinstance(extends, dict) and "file" in extends:
            problems.append(((*loc, "extends", "file"), "a service can extend another of the same file only"))
        if "label_file" in body:
            problems.append(((*loc, "label_file"), "not supported by CRANE: put the labels under labels"))
        if "env_file" not in body:
            continue
        for index, path, required in _env_file_paths(body["env_file"]):
            here = (*loc, "env_file", index)
            if not isinstance(path, str) or "$" in path:
                problems.append((here, "an env file is named by a plain relative path (no variables)"))
                continue
            normal = upload_path(path)
            if normal is None:
                problems.append((here, f"{path!r} is outside the project folder"))
            elif normal in env_files:
                used.add(normal)
            elif required:
                problems.append((here, f"upload its content as the multipart part {ENV_FILE_PART}{normal}"))
    for path in sorted(set(env_files) - used - {DOTENV}):
        problems.append(((f"{ENV_FILE_PART}{path}",), "no service names this env_file"))
    return problems


def _check_dotenv(content: bytes | None) -> list[tuple[Loc, str]]:
    """An uploaded .env may fill variables, not set Compose itself up."""
    if content is None:
        return []
    return [
        (
            (f"{ENV_FILE_PART}{DOTENV}",),
            f"line {number}: {key} is a setting of Docker Compose itself, not a variable of the file; "
            "CRANE reads exactly the compose file uploaded (remove the line)",
        )
        for number, key in dotenv_keys(content.decode(errors="replace"))
        if is_compose_setting(key)
    ]


def _problems_from(stderr: str, folder: str) -> list[tuple[Loc, str]]:
    """Compose's error as field errors: "validating <file>: services.web.ports.0 <msg>" names
    the field; any other error is the file's."""
    text = stderr.replace(folder + "/", "").replace(folder, ".").strip()
    lines = [line for line in text.splitlines() if line.strip() and "level=warning" not in line]
    message = lines[-1] if lines else "Docker Compose could not read the file"
    match = _VALIDATION.search(message)
    if match:
        loc = tuple(int(part) if part.isdigit() else part for part in match.group(1).split("."))
        return [(loc, _with_a_guess(loc, match.group(2)))]
    return [((), message)]


_UNKNOWN_KEY = re.compile(r"additional propert(?:y|ies) '([^']+)' not allowed")


def _with_a_guess(loc: Loc, message: str) -> str:
    """Compose's "additional properties 'imagee' not allowed", with the key it most likely meant."""
    unknown = _UNKNOWN_KEY.search(message)
    if unknown is None:
        return message
    if len(loc) == 2 and loc[0] == "services":
        known = HONOURED_SERVICE_KEYS | set(WARNED_SERVICE_KEYS) | set(REFUSED_SERVICE_KEYS)
    elif not loc:
        known = TOP_LEVEL_HONOURED | set(TOP_LEVEL_WARNED) | set(TOP_LEVEL_REFUSED)
    else:
        return message
    guess = difflib.get_close_matches(unknown.group(1), sorted(known), n=1, cutoff=0.7)
    return f"{message}; did you mean {guess[0]!r}?" if guess else message


def _warnings_from(stderr: str, folder: str) -> list[str]:
    """Compose's warnings, unset variables in CRANE's words (as its own reader says them)."""
    stderr = stderr.replace(folder + "/", "")
    names = sorted(set(_UNSET.findall(stderr)))
    warnings = [f"variables: {name} is not set; a blank string is used (as Compose does)" for name in names]
    for line in stderr.splitlines():
        match = _WARNING.search(line.strip())
        if match and not _UNSET.search(line):
            warnings.append("compose: " + match.group(1).replace('\\"', '"'))
    return warnings


def without_compose_defaults(document: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Compose's output without what Compose itself added (names from the scratch folder, empty
    options, the default network of every service), in the file's own order of services, with
    the secrets and configs it declared even where no service uses them."""
    project = document.get("name", PROJECT_FOLDER)
    if "name" not in raw:
        document.pop("name", None)
    for kind in ("networks", "volumes", "secrets", "configs"):
        declared = document.get(kind) or {}
        for key, options in declared.items():
            if isinstance(options, dict):
                if options.get("name") == f"{project}_{key}":
                    del options["name"]
                if options.get("ipam") == {}:
                    del options["ipam"]
        if kind in ("secrets", "configs") and isinstance(raw.get(kind), dict):
            for key, options in raw[kind].items():
                declared.setdefault(key, options)
        if declared:
            document[kind] = declared
    if (document.get("networks") or {}).get("default") == {}:
        del document["networks"]["default"]
        if not document["networks"]:
            del document["networks"]
    services = document.get("services") or {}
    for body in services.values():
        for key in ("command", "entrypoint"):
            if key in body and body[key] is None:
                del body[key]
        if body.get("networks") == {"default": None}:
            del body["networks"]
        if (body.get("deploy") or {}).get("placement") == {}:
            del body["deploy"]["placement"]
        for volume in body.get("volumes") or []:
            if isinstance(volume, dict):
                if volume.get("bind") == {"create_host_path": True}:
                    del volume["bind"]
                if volume.get("volume") == {}:
                    del volume["volume"]
    order = list(raw.get("services") or {}) if isinstance(raw.get("services"), dict) else []
    document["services"] = {
        name: services[name] for name in sorted(services, key=lambda n: order.index(n) if n in order else len(order))
    }
    return document


def normalise(
    text: str | bytes,
    env_files: dict[str, bytes] | None = None,
    binary: str | None = None,
    timeout: float = COMPOSE_TIMEOUT_SECONDS,
) -> Normalised:
    """The file as Docker Compose reads it; raises ComposeError naming the fields Compose or
    CRANE refuse, ComposeUnavailable when Compose cannot run. ``env_files`` maps a path of the
    upload (``conf/web.env``) to its content."""
    env_files = env_files or {}
    if len(text) > MAX_COMPOSE_BYTES:
        raise ComposeError([((), f"the file is larger than {MAX_COMPOSE_BYTES} bytes")])
    raw = load_bounded(text)
    problems = _check_references(raw, env_files) + _check_dotenv(env_files.get(DOTENV))
    if problems:
        raise ComposeError(problems)
    executable = find_compose(binary)
    with tempfile.TemporaryDirectory(prefix="crane-compose-") as scratch:
        folder = Path(scratch) / PROJECT_FOLDER
        folder.mkdir()
        (folder / COMPOSE_FILE_NAME).write_bytes(text.encode() if isinstance(text, str) else text)
        for path, content in env_files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        try:
            done = subprocess.run(
                [executable, "-f", COMPOSE_FILE_NAME, "--profile", "*", "config", "--no-path-resolution"],
                cwd=folder,
                env={"PATH": "/usr/bin:/bin", "HOME": scratch, "DOCKER_CONFIG": scratch},
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ComposeError([((), f"Docker Compose took over {timeout:.0f} s to read the file")]) from None
        except OSError as exc:
            raise ComposeUnavailable(f"Docker Compose could not run: {exc}") from None
        stderr = done.stderr.decode(errors="replace")
        if done.returncode != 0:
            raise ComposeError(_problems_from(stderr, str(folder)))
    document = yaml.safe_load(done.stdout)
    if not isinstance(document, dict):
        raise ComposeError([((), "Docker Compose read no project from the file")])
    normal = without_compose_defaults(document, raw if isinstance(raw, dict) else {})
    return Normalised(yaml.safe_dump(normal, sort_keys=False), _warnings_from(stderr, str(folder)))
