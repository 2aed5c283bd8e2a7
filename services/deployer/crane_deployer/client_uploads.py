"""The files a NATS client's intent names (uploads.py): each must be the token's user's and
pass the same checks as a multipart upload to the API; then it moves into the contexts or files
store and the spec names it by digest or id, as if it had come through the API."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from crane_shared import subjects as s
from crane_shared.appspec import AppSpec
from crane_shared.build_context import ContextError, ContextLimits, inspect_context, max_archive_bytes
from crane_shared.events import InvalidEvent
from crane_shared.storage import Kind, OverQuota
from crane_shared.uploads import MAX_FILE_BYTES, belongs_to, store_contents, upload_references

Objects = Callable[[str], Awaitable[ObjectStore]]


def _field(loc: tuple[str | int, ...]) -> str:
    return ".".join(["data", "spec", *map(str, loc)])


@dataclass
class Claimed:
    """A spec whose uploads are in CRANE's stores, and the uploads to delete once the intent
    that names them is published (a redelivered intent finds them still there)."""

    spec: AppSpec
    uploads: list[str] = field(default_factory=list)


Record = Callable[[Kind, str, int], Awaitable[None]]


async def _nothing(kind: Kind, name: str, size: int) -> None:
    return None


async def claim_uploads(
    spec: AppSpec, uploader: str, objects: Objects, limits: ContextLimits, event_id: str, record: Record = _nothing
) -> Claimed:
    """``spec`` with each upload it names checked and copied into CRANE's stores; raises
    InvalidEvent naming the field of an upload that is not the uploader's, is missing or
    unsafe. A file's id comes from the intent's id, so a redelivered intent gives the same.
    ``record`` records each for the app's owner first (raising OverQuota past their quota)."""
    raw = spec.model_dump(mode="json")
    references = list(upload_references(raw))
    if not references:
        return Claimed(spec)
    uploads = await objects(s.UPLOADS_OBJECTS)
    with tempfile.TemporaryDirectory(prefix="crane-claim-") as scratch:
        contexts: dict[str, bytes | Path] = {}
        files: dict[str, bytes] = {}
        for index, (loc, name) in enumerate(references):
            if not belongs_to(name, uploader):
                raise InvalidEvent(f"{_field(loc)}: the upload {name!r} is not yours")
            is_file = loc[0] in ("secrets", "configs")
            cap = MAX_FILE_BYTES if is_file else max_archive_bytes(limits)
            try:  # its size first: an upload past its cap is never read
                size = (await uploads.get_info(name)).size or 0
            except NotFoundError:
                raise InvalidEvent(
                    f"{_field(loc)}: there is no upload {name!r} (uploads expire after an hour)"
                ) from None
            if size > cap:
                raise InvalidEvent(f"{_field(loc)}: the upload is {size} bytes, larger than {cap}")
            if is_file:
                data = (await uploads.get(name)).data or b""
                file_id = "f-" + hashlib.sha256(f"{event_id}/{name}".encode()).hexdigest()[:32]
                await _recorded(record, "file", file_id, len(data), loc)
                files[file_id] = data
                _replace(raw, loc, file_id)
                continue
            path = Path(scratch, f"upload-{index}")
            with path.open("wb") as sink:  # streamed to disk, chunk by chunk
                await uploads.get(name, writeinto=sink)
            try:
                info = await asyncio.to_thread(inspect_context, path, limits)
            except ContextError as exc:
                raise InvalidEvent(f"{_field(loc)}: {exc}") from None
            await _recorded(record, "context", info.digest, path.stat().st_size, loc)
            contexts[info.digest] = path
            _replace(raw, loc, info.digest)
        await store_contents(objects, contexts, files)
    return Claimed(AppSpec.model_validate(raw), [name for _, name in references])


async def _recorded(record: Record, kind: Kind, name: str, size: int, loc: tuple[str | int, ...]) -> None:
    try:
        await record(kind, name, size)
    except OverQuota as exc:
        raise InvalidEvent(f"{_field(loc)}: {exc}") from None


async def release_uploads(objects: Objects, names: list[str]) -> None:
    """Delete claimed uploads (one already gone is fine)."""
    if not names:
        return
    uploads = await objects(s.UPLOADS_OBJECTS)
    for name in names:
        with contextlib.suppress(NotFoundError):
            await uploads.delete(name)


def _replace(raw: dict[str, Any], loc: tuple[str | int, ...], value: str) -> None:
    target: Any = raw
    for part in loc[:-1]:
        target = target[part]
    target[loc[-1]] = value
