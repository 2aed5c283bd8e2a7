"""Files that clients publishing straight to NATS send with their intents: build contexts,
folders' content (bind mounts), secrets and configs.

A client puts each file into the ``crane_uploads`` object store under a name of its own making
(``upload_name``: ``u-<owner key>-<random>``), with publish permission only: the client NATS
user can write the store's subjects but not read, list or purge it, so no client sees another's
uploads. The intent's spec names each upload where the REST API would have put a digest or a
file id (``build.context``, ``seeds``, ``secrets``, ``configs``). The deployer checks the
intent's token, that each upload's owner key is the token's user's (from their user id), and the content (the same
limits and path checks as a multipart upload), moves it into the contexts or files store under
its digest or a new id, and deletes the upload. Unclaimed uploads expire.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import subjects as s
from .compat import UTC

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext
    from nats.js.object_store import ObjectStore

UPLOAD_PATTERN = r"^u-[0-9a-f]{16}-[0-9a-f]{32}$"
UPLOAD_TTL_SECONDS = 3600.0
UPLOADS_MAX_BYTES = 4 * 1024**3  # all clients' unclaimed uploads together
CHUNK_BYTES = 128 * 1024  # the object store's own default
MAX_FILE_BYTES = 1024 * 1024  # one secret or config


def owner_key(owner: str) -> str:
    """The part of an upload's name that says whose it is."""
    return hashlib.sha256(owner.encode()).hexdigest()[:16]


def upload_name(owner: str) -> str:
    return f"u-{owner_key(owner)}-{uuid.uuid4().hex}"


def is_upload(reference: str) -> bool:
    return reference.startswith("u-")


def belongs_to(reference: str, owner: str) -> bool:
    return reference.startswith(f"u-{owner_key(owner)}-")


def upload_references(spec: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(field path, upload name) of each upload a spec (as a dict) names."""
    for index, service in enumerate(spec.get("services") or []):
        context = ((service or {}).get("build") or {}).get("context")
        if isinstance(context, str) and is_upload(context):
            yield ("services", index, "build", "context"), context
    for kind in ("seeds", "secrets", "configs"):
        for name, reference in (spec.get(kind) or {}).items():
            if isinstance(reference, str) and is_upload(reference):
                yield (kind, name), reference


async def put_upload(js: JetStreamContext, bucket: str, owner: str, data: bytes) -> str:
    """Put ``data`` into the uploads store as the object store lays objects out (chunks, then
    the object's metadata), with publishes alone: what a client may do. Returns its name."""
    from nats.js.api import Header

    name = upload_name(owner)
    nuid = uuid.uuid4().hex
    chunks = 0
    for start in range(0, len(data), CHUNK_BYTES):
        await js.publish(f"$O.{bucket}.C.{nuid}", data[start : start + CHUNK_BYTES])
        chunks += 1
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()
    info = {
        "name": name,
        "bucket": bucket,
        "nuid": nuid,
        "size": len(data),
        "chunks": chunks,
        "digest": f"SHA-256={digest}",
        "mtime": datetime.now(UTC).isoformat(),
        "options": {"max_chunk_size": CHUNK_BYTES},
    }
    meta = base64.urlsafe_b64encode(name.encode()).decode()
    await js.publish(f"$O.{bucket}.M.{meta}", json.dumps(info).encode(), headers={Header.ROLLUP: "sub"})
    return name


async def store_contents(
    objects: Callable[[str], Awaitable[ObjectStore]], contexts: Mapping[str, bytes | Path], files: dict[str, bytes]
) -> None:
    """Put build contexts (by digest: one copy per content; bytes, or a file streamed chunk by
    chunk) and the content of secrets and configs (by their ids) into their object stores
    (``objects`` opens one), before anything refers to them."""
    from nats.js.errors import NotFoundError

    if contexts:
        store = await objects(s.CONTEXTS_OBJECTS)
        for digest, archive in contexts.items():
            try:
                await store.get_info(digest)
                continue  # the same content was uploaded before
            except NotFoundError:
                if isinstance(archive, Path):
                    with archive.open("rb") as stream:
                        await store.put(digest, stream)
                else:
                    await store.put(digest, archive)
    if files:
        store = await objects(s.FILES_OBJECTS)
        for file_id, content in files.items():
            await store.put(file_id, content)


def unclaimed_uploads(spec: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Field errors for uploads named where none can be claimed (the REST API's JSON, trusted
    app.* intents): only a client.app.* intent's uploads are moved into CRANE's stores."""
    return [
        (loc, f"{name!r} is a NATS client's upload: send it with a client.app.* intent, or upload the file")
        for loc, name in upload_references(spec)
    ]
