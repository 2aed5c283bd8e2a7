"""Reading an app from a request body: JSON (the App payload) or a Compose file (YAML).
Every problem becomes a 422 whose ``loc`` names the field."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from crane_shared.appspec import AppSpec
from crane_shared.build_context import ContextError, ContextLimits, ContextTooLarge, inspect_context, max_archive_bytes
from crane_shared.compose import ComposeApp, ComposeError, parse_compose
from crane_shared.compose.normalising import ENV_FILE_PART, ComposeUnavailable, normalise, upload_path
from crane_shared.files import new_file_id
from crane_shared.image_refs import image_ref_problem
from crane_shared.uploads import MAX_FILE_BYTES, unclaimed_uploads

from .schemas import AppUpdate
from .upload_stream import TOO_LARGE, UploadRefused, read_parts

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
MAX_BODY_BYTES = 256 * 1024
MULTIPART = "multipart/form-data"
MAX_CONTEXTS = 20  # one per service at most
MAX_PARTS = 1 + MAX_CONTEXTS + 100  # the compose file, contexts, secrets and configs


def field_errors(problems: list[tuple[tuple[Any, ...], str]]) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", *loc), "msg": msg, "input": None} for loc, msg in problems]
    )


def validation_errors(exc: ValidationError, prefix: tuple[Any, ...] = ("body",)) -> RequestValidationError:
    """Pydantic's errors under ``prefix``, without the input they were about: a body that is
    not UTF-8 could not be written back as JSON (a 500 instead of the 422)."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return RequestValidationError([{**err, "loc": (*prefix, *err["loc"])} for err in errors])


def event_errors(message: str) -> RequestValidationError:
    """Turn an InvalidEvent text ("data.replicas: msg; ...") into field errors under body."""
    problems = []
    for part in message.split("; "):
        path, _, msg = part.partition(": ")
        loc = tuple(p for p in path.split(".") if p and p != "data")
        problems.append((loc, msg or part))
    return field_errors(problems)


@dataclass
class AppUpload:
    """What a create (or replace) request brings: the app, the warnings of its compose file,
    and the build contexts it uploaded (digest -> archive)."""

    spec: AppSpec
    warnings: list[str] = field(default_factory=list)
    contexts: dict[str, bytes | Path] = field(default_factory=dict)  # spooled to disk when uploaded
    files: dict[str, bytes] = field(default_factory=dict)  # secrets' and configs' content by file id

    @property
    def all_warnings(self) -> list[str]:
        """The compose file's warnings and the spec's own (replicas over one volume), once each
        (a clone brings its original's, which hold the spec's already)."""
        return list(dict.fromkeys([*self.warnings, *self.spec.scale_warnings()]))


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_upload(request: Request) -> bool:
    """Whether the body is a compose file or a multipart upload (not the JSON model)."""
    return _content_type(request) in (*YAML_TYPES, MULTIPART)


@dataclass
class UploadRules:
    """How uploads are read: the limits of build contexts, of a whole upload, where uploaded
    archives wait on disk while the request lasts, and the Docker Compose that reads files."""

    limits: ContextLimits
    compose_binary: str | None = None
    max_upload_bytes: int = 256 * 1024 * 1024
    spool_dir: Path | None = None  # default: the system's temporary folder


@dataclass
class ComposeUpload:
    """A compose file and what came with it: contexts by service, the ids of uploaded secrets'
    and configs' content by part, uploaded folders by path, env files by path."""

    text: bytes
    contexts: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    binds: dict[str, str] = field(default_factory=dict)
    env_files: dict[str, bytes] = field(default_factory=dict)


async def _compose(upload: ComposeUpload, rules: UploadRules, default_name: str | None) -> ComposeApp:
    """The app of a compose file as Docker Compose reads it (normalising.py), then CRANE."""
    try:
        normal = await asyncio.to_thread(normalise, upload.text, upload.env_files, rules.compose_binary)
        app = parse_compose(
            normal.text, contexts=upload.contexts, files=upload.files, default_name=default_name, binds=upload.binds
        )
    except ComposeError as exc:
        raise field_errors(exc.problems) from None
    except ComposeUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    problems = image_problems(app.spec, by_name=True)
    if problems:
        raise field_errors(problems)
    app.warnings[:0] = normal.warnings
    return app


async def read_app_spec(
    request: Request, rules: UploadRules, spool: Path, default_name: str | None = None
) -> AppUpload:
    """The app a request body describes: JSON (the App model), a compose file, or a multipart
    upload of a compose file with the build contexts of its services (``default_name`` names
    an app whose compose file has no name). Uploaded archives are spooled into ``spool``, a
    folder that lives as long as the request."""
    content_type = _content_type(request)
    if content_type == MULTIPART:
        return await _read_multipart(request, rules, default_name, spool)
    received = bytearray()
    async for chunk in request.stream():  # counted as it comes: a huge body is never read whole
        received += chunk
        if len(received) > MAX_BODY_BYTES:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"body larger than {MAX_BODY_BYTES} bytes")
    raw = bytes(received)
    if content_type in YAML_TYPES:
        app = await _compose(ComposeUpload(raw), rules, default_name)
        return AppUpload(app.spec, app.warnings, files=app.inline_files)
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise field_errors([((), f"not valid JSON: {exc}")]) from None
    try:
        return AppUpload(claimed_spec(AppSpec.model_validate(body)))
    except ValidationError as exc:
        raise validation_errors(exc) from None


def claimed_spec(spec: AppSpec) -> AppSpec:
    """``spec``, refused (422) where it names a NATS client's upload (the API has none to
    claim) or an image a tenant may not run (image_refs.py)."""
    problems = unclaimed_uploads(spec.model_dump(mode="json")) + image_problems(spec, by_name=False)
    if problems:
        raise field_errors(problems)
    return spec


def image_problems(spec: AppSpec, by_name: bool) -> list[tuple[tuple[Any, ...], str]]:
    """The services whose image a tenant may not name, each under its field (by its name in a
    compose file, by its index in the JSON payload)."""
    return [
        (("services", service.name if by_name else index, "image"), problem)
        for index, service in enumerate(spec.services)
        if service.build is None and service.image and (problem := image_ref_problem(service.image))
    ]


async def _checked_tar(
    part: str, archive: bytes | Path, limits: ContextLimits, contexts: dict[str, bytes | Path]
) -> str:
    """The digest of an uploaded tar (a build context or a folder's content), kept in
    ``contexts``; 413 past the limits, 422 naming the part when it is unsafe."""
    try:
        info = await asyncio.to_thread(inspect_context, archive, limits)
    except ContextTooLarge as exc:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"{part}: {exc}") from None
    except ContextError as exc:
        raise field_errors([((part,), str(exc))]) from None
    contexts[info.digest] = archive
    return info.digest


def part_cap(name: str, limits: ContextLimits) -> int:
    """The most one part of an upload may hold, by its name."""
    if name.startswith(("build.", "bind.")):
        return max_archive_bytes(limits)
    if name == "compose":
        return MAX_BODY_BYTES
    return MAX_FILE_BYTES  # secrets, configs, env files (and names refused below)


async def _read_multipart(request: Request, rules: UploadRules, default_name: str | None, spool: Path) -> AppUpload:
    limits = rules.limits
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(status.HTTP_411_LENGTH_REQUIRED, "a multipart upload needs a Content-Length")
    # (a declared length past CRANE_MAX_UPLOAD_BYTES never gets here: body_limit.py answers 413)
    try:
        parts = await read_parts(
            request.headers.get("content-type", ""),
            request.stream(),
            spool,
            lambda name: part_cap(name, limits),
            rules.max_upload_bytes,
            MAX_PARTS,
        )
    except UploadRefused as exc:
        if exc.code == TOO_LARGE:
            raise exc.http() from None
        raise field_errors([((), exc.detail)]) from None
    compose_text: bytes | None = None
    archives: dict[str, bytes | Path] = {}
    folders: dict[str, bytes | Path] = {}  # bind-mounted path -> the folder's tar
    uploaded: dict[str, str] = {}  # part -> file id
    files: dict[str, bytes] = {}
    env_files: dict[str, bytes] = {}
    for part in parts:
        name, content = part.name, part.content()
        data = content if isinstance(content, bytes) else b""
        if name == "compose":
            compose_text = data
        elif name.startswith("build."):
            archives[name.removeprefix("build.")] = content
        elif name.startswith(("secret.", "config.")):
            uploaded[name] = new_file_id()
            files[uploaded[name]] = data
        elif name.startswith("bind."):
            folders[name.removeprefix("bind.")] = content
        elif name.startswith(ENV_FILE_PART):
            path = upload_path(name.removeprefix(ENV_FILE_PART))
            if path is None:
                raise field_errors([((name,), "an env file's path is relative and inside the project folder")])
            env_files[path] = data
        else:
            raise field_errors(
                [
                    (
                        (name,),
                        "unknown part (expected compose, build.<service>, secret.<name>, config.<name>, "
                        "bind.<path>, env_file.<path>)",
                    )
                ]
            )
    if compose_text is None:
        raise field_errors([(("compose",), "the upload needs a compose part holding the compose file")])
    contexts: dict[str, bytes | Path] = {}
    digests = {
        service: await _checked_tar(f"build.{service}", archive, limits, contexts)
        for service, archive in archives.items()
    }
    binds = {path: await _checked_tar(f"bind.{path}", archive, limits, contexts) for path, archive in folders.items()}
    app = await _compose(ComposeUpload(compose_text, digests, uploaded, binds, env_files), rules, default_name)
    return AppUpload(app.spec, app.warnings, contexts, {**files, **app.inline_files})


_UPLOADS: dict[str, Any] = {
    "application/yaml": {"schema": {"type": "string", "description": "a Compose file; CRANE settings under x-crane"}},
    MULTIPART: {
        "schema": {
            "type": "object",
            "properties": {"compose": {"type": "string", "format": "binary", "description": "the compose file"}},
            "additionalProperties": {
                "type": "string",
                "format": "binary",
                "description": "build.<service>: the tar or tar.gz of that service's build context",
            },
            "required": ["compose"],
        }
    },
}
APP_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AppSpec"}}, **_UPLOADS},
    }
}

PATCH_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": AppUpdate.model_json_schema()}, **_UPLOADS},
    }
}
