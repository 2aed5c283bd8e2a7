"""Who owns what CRANE stores, and how much each owner stores.

Build contexts and folders' tars (the contexts store, by content digest) and the content of
secrets and configs (the files store, by id) are recorded in the storage bucket with the users
whose apps hold them and their size (``context.<digest>``, ``file.<id>``: StoredObject).

- The API, and the deployer for NATS clients' uploads, record an object for the app's owner
  before a spec names it, refusing it past the owner's storage quota.
- The deployer builds, seeds and mounts an object only for an owner recorded on it: a content
  digest can be computed by anyone with the same files, and gives nothing to another tenant.
- An object no app of an owner names any more is released for that owner (after a grace, so
  that an upload whose spec is on its way is kept); one with no owner left is deleted.
- ``usage.<user id>`` (OwnerUsage): the bytes each owner stores, and their built images.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field

from .appspec import AppRecord
from .store import kv_items

Kind = Literal["context", "file"]
KINDS: tuple[Kind, ...] = ("context", "file")
USAGE_PREFIX = "usage."
RELEASE_GRACE_SECONDS = 600.0  # an upload's spec follows it within this time


class StoredObject(BaseModel):
    """One stored context or file: its size, and each owner with when they last recorded it."""

    size: int = Field(ge=0)
    owners: dict[str, float] = Field(default_factory=dict)


class OwnerUsage(BaseModel):
    """What one owner stores: contexts and files (each counted in full for every owner that
    holds it), and the images CRANE built for their apps (the deployer's count)."""

    stored_bytes: int = Field(default=0, ge=0)
    build_cache_bytes: int = Field(default=0, ge=0)


@dataclass
class Released:
    """What a sweep released, and when (seconds since the epoch) the grace of the next unused
    object ends (None: nothing unused waits)."""

    released: list[tuple[str, Kind, str]] = field(default_factory=list)
    next_due: float | None = None


class OverQuota(Exception):
    """Recording the object would take its owner past their storage quota."""


def object_key(kind: Kind, name: str) -> str:
    return f"{kind}.{name}"


def usage_key(owner: str) -> str:
    return USAGE_PREFIX + owner


def named_objects(record: AppRecord) -> set[tuple[Kind, str]]:
    """The contexts and files an app's spec names (pure)."""
    spec = record.spec
    contexts = {s.build.context for s in spec.services if s.build is not None} | set(spec.seeds.values())
    files = set(spec.secrets.values()) | set(spec.configs.values())
    return {("context", name) for name in contexts} | {("file", name) for name in files}


def in_use(records: Iterable[AppRecord]) -> set[tuple[str, Kind, str]]:
    """(owner, kind, name) of everything the apps name (pure)."""
    return {(record.owner, kind, name) for record in records for kind, name in named_objects(record)}


class Storage:
    """The storage bucket (owned by the API, written by the deployer too); every change is a
    compare-and-set, so the API's and the deployer's records never lose each other's."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def _read(self, key: str) -> tuple[bytes | None, int]:
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None, 0
        return entry.value, entry.revision or 0

    async def _write(self, key: str, value: bytes, revision: int) -> bool:
        try:
            if revision:
                await self.kv.update(key, value, last=revision)
            else:
                await self.kv.create(key, value)
        except KeyWrongLastSequenceError:
            await asyncio.sleep(0.005)
            return False
        return True

    async def usage(self, owner: str) -> OwnerUsage:
        value, _ = await self._read(usage_key(owner))
        return OwnerUsage.model_validate_json(value) if value else OwnerUsage()

    async def _add_usage(self, owner: str, stored: int = 0, build_cache: int | None = None) -> None:
        key = usage_key(owner)
        for _ in range(50):
            value, revision = await self._read(key)
            usage = OwnerUsage.model_validate_json(value) if value else OwnerUsage()
            usage.stored_bytes = max(0, usage.stored_bytes + stored)
            if build_cache is not None:
                usage.build_cache_bytes = build_cache
            if await self._write(key, usage.model_dump_json().encode(), revision):
                return
        raise RuntimeError(f"the usage of {owner} kept changing")

    async def set_build_cache(self, owner: str, size: int) -> None:
        await self._add_usage(owner, build_cache=size)

    async def record(self, kind: Kind, name: str, owner: str, size: int, quota_bytes: int | None) -> None:
        """Record ``owner`` on the object (new to them: counted in their usage, refused with
        OverQuota past ``quota_bytes``; known: its time refreshed)."""
        key = object_key(kind, name)
        for _ in range(50):
            value, revision = await self._read(key)
            stored = StoredObject.model_validate_json(value) if value else StoredObject(size=size)
            new = owner not in stored.owners
            if new and quota_bytes is not None:
                used = (await self.usage(owner)).stored_bytes
                if used + stored.size > quota_bytes:
                    raise OverQuota(
                        f"your apps' uploads take {used} bytes; this one ({stored.size} bytes) would pass your "
                        f"storage quota of {quota_bytes} bytes (delete apps you no longer need)"
                    )
            stored.owners[owner] = time.time()
            if await self._write(key, stored.model_dump_json().encode(), revision):
                if new:
                    await self._add_usage(owner, stored=stored.size)
                return
        raise RuntimeError(f"the record of {key} kept changing")

    async def owns(self, kind: Kind, name: str, owner: str) -> bool:
        value, _ = await self._read(object_key(kind, name))
        return value is not None and owner in StoredObject.model_validate_json(value).owners

    async def release_unused(
        self,
        records: Iterable[AppRecord],
        delete: Callable[[Kind, str], Awaitable[None]],
        now: float | None = None,
        grace: float = RELEASE_GRACE_SECONDS,
    ) -> Released:
        """Release each object for each owner none of whose apps names it any more (recorded
        longer ago than ``grace``); ``delete`` removes an object no owner holds from its
        store. Returns what was released, and when the next unused one's grace ends."""
        now = time.time() if now is None else now
        used = in_use(records)
        result = Released()
        for kind in KINDS:
            for key, value in (await kv_items(self.kv, f"{kind}.")).items():
                name = key.removeprefix(f"{kind}.")
                waiting = [
                    when + grace
                    for owner, when in StoredObject.model_validate_json(value).owners.items()
                    if (owner, kind, name) not in used and now - when <= grace
                ]
                if waiting:
                    result.next_due = min([*waiting, *([result.next_due] if result.next_due else [])])
                result.released += await self._release(kind, name, used, now, grace, delete)
        return result

    async def _release(
        self,
        kind: Kind,
        name: str,
        used: set[tuple[str, Kind, str]],
        now: float,
        grace: float,
        delete: Callable[[Kind, str], Awaitable[None]],
    ) -> list[tuple[str, Kind, str]]:
        key = object_key(kind, name)
        for _ in range(50):
            value, revision = await self._read(key)
            if value is None:
                return []
            stored = StoredObject.model_validate_json(value)
            gone = [o for o, when in stored.owners.items() if (o, kind, name) not in used and now - when > grace]
            if not gone:
                return []
            for owner in gone:
                del stored.owners[owner]
            if stored.owners:
                written = await self._write(key, stored.model_dump_json().encode(), revision)
            else:
                try:  # the record goes first: one recorded again meanwhile keeps its object
                    await self.kv.delete(key, last=revision)
                    written = True
                except (KeyWrongLastSequenceError, APIError):  # (a changed record: "wrong last sequence")
                    written = False
                if written:
                    await delete(kind, name)
            if written:
                for owner in gone:
                    await self._add_usage(owner, stored=-stored.size)
                return [(owner, kind, name) for owner in gone]
        return []

    async def adopt(self, records: Iterable[AppRecord], size_of: Callable[[Kind, str], Awaitable[int | None]]) -> int:
        """Record what apps from before this bucket name, for their owners (no quota: they
        have it already). Returns how many (owner, object) pairs were new."""
        count = 0
        for owner, kind, name in sorted(in_use(records)):
            if await self.owns(kind, name, owner):
                continue
            size = await size_of(kind, name)
            if size is None:  # not in its store (any more): nothing to record
                continue
            await self.record(kind, name, owner, size, None)
            count += 1
        return count

    async def recorded_size(self, kind: Kind, name: str) -> int | None:
        value, _ = await self._read(object_key(kind, name))
        return StoredObject.model_validate_json(value).size if value else None

    async def owners_of_all(self) -> dict[str, StoredObject]:
        """Every record (for tests and admins)."""
        items = {}
        for kind in KINDS:
            for key, value in (await kv_items(self.kv, f"{kind}.")).items():
                items[key] = StoredObject.model_validate_json(value)
        return items
