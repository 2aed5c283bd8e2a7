"""App state in JetStream key-value buckets: the records, the id counter, and the mapping
from a creating event to the app it created (so a redelivered app.created is a no-op).

Every write is compare-and-set on the key's revision, so the API (any number of replicas) and
the deployer can change the same record without losing each other's writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

from nats.js.errors import APIError, InvalidKeyError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from .apps_view import AppsView
from .appspec import RECORD_VERSION, AppRecord, utcnow
from .monitoring_state import ALERT_PREFIX, AlertState, FiringAlert

log = logging.getLogger("crane.store")

SEQUENCE_KEY = "seq.apps"
APP_PREFIX = "app."
# owner digest -> the lease of the admission under way for that owner (AppStore.admitting).
ADMISSION_PREFIX = "admitting."
ADMISSION_LEASE_SECONDS = 15.0  # longer than an admission's own timeout
ADMISSION_WAIT_SECONDS = 30.0
CREATED_BY_PREFIX = "created-by."
# app id -> the app as a portable compose file (YAML), written by the deployer, read by the API.
COMPOSE_PREFIX = "compose."


async def kv_keys(kv: KeyValue, prefix: str = "") -> list[str]:
    """The keys of the bucket that start with ``prefix`` (deleted ones may be among them).

    Read from the stream's subject counts in one request: KeyValue.keys() builds a watcher
    whose "no more keys" marker can come first under load, and then it says "no keys" for a
    bucket that has some."""
    bucket = kv._name  # noqa: SLF001 - nats-py keeps the bucket name only here
    info = await kv._js.stream_info(f"KV_{bucket}", subjects_filter=f"$KV.{bucket}.{prefix}>")  # noqa: SLF001
    subjects = info.state.subjects or {}
    return sorted(subject.removeprefix(f"$KV.{bucket}.") for subject in subjects)


async def kv_items(kv: KeyValue, prefix: str = "") -> dict[str, bytes]:
    """Every key of the bucket that starts with ``prefix``, with its value; keys deleted (or
    deleted while we read) are skipped."""
    items = {}
    for key in await kv_keys(kv, prefix):
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            continue
        if entry.value:
            items[key] = entry.value
    return items


async def firing_alerts(alerts: KeyValue) -> list[FiringAlert]:
    """The alerts whose last known state (kept by the alert-bridge) is firing."""
    stored = await kv_items(alerts, ALERT_PREFIX)
    states = {key: AlertState.model_validate_json(value) for key, value in stored.items()}
    return [
        FiringAlert(fingerprint=key.removeprefix(ALERT_PREFIX), **state.model_dump())
        for key, state in states.items()
        if state.status == "firing"
    ]


def format_app_id(name: str, number: int) -> str:
    """A unique, readable app id: the user's name plus the suite-wide sequence number (shop-7)."""
    return f"{name}-{number}"


class Conflict(RuntimeError):
    """A record kept changing under a compare-and-set loop."""


class AdmissionLease(BaseModel):
    """Who holds an owner's admission (AppStore.admitting), until when (seconds since the epoch)."""

    holder: str
    until: float

    @classmethod
    def expired(cls, value: bytes | None, now: float) -> bool:
        """Whether a stored lease no longer holds: past its time, or not a lease at all (so a
        broken entry cannot block its owner's admissions for ever)."""
        if not value:
            return False
        try:
            return cls.model_validate_json(value).until < now
        except ValidationError:
            return True


class AppStore:
    """Typed access to the apps bucket."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self._view: AppsView | None = None

    async def watch(self) -> None:
        """Keep every record in memory from now on (apps_view.py): ``list`` then costs one
        request however many apps there are. For services that list often."""
        self._view = AppsView(self.kv, APP_PREFIX)
        await self._view.start()

    async def close(self) -> None:
        """Stop watching (``list`` reads the bucket again)."""
        if self._view:
            await self._view.stop()
            self._view = None

    async def get(self, app_id: str) -> AppRecord | None:
        try:
            entry = await self.kv.get(APP_PREFIX + app_id)
        except (KeyNotFoundError, InvalidKeyError):  # no such key, or no key could be named so
            return None
        return AppRecord.model_validate_json(entry.value) if entry.value else None

    async def _valid(self, app_id: str) -> AppRecord | None:
        """The record, or None if there is none or it is not a valid record (logged)."""
        try:
            return await self.get(app_id)
        except ValidationError as exc:
            log.warning("app record %s is not valid: %s", app_id, exc)
            return None

    async def owner_of(self, app_id: str) -> str | None:
        """Whose app ``app_id`` is (None: no such app)."""
        record = await self.get(app_id)
        return record.owner if record is not None else None

    async def migrate(self) -> list[str]:
        """Rewrite every record of an older model in the current one (reading one migrates it
        in memory; this keeps it so). Returns the ids rewritten."""
        migrated = []
        for key in await kv_keys(self.kv, APP_PREFIX):
            try:
                entry = await self.kv.get(key)
            except KeyNotFoundError:
                continue
            raw = json.loads(entry.value or b"null")
            if not isinstance(raw, dict) or raw.get("version") == RECORD_VERSION:
                continue
            record = AppRecord.model_validate(raw)
            with contextlib.suppress(KeyWrongLastSequenceError):  # changed meanwhile: by the current model
                await self.kv.update(key, record.model_dump_json().encode(), last=entry.revision)
                migrated.append(record.id)
        return migrated

    async def rename_owner(self, email: str, user_id: str) -> None:
        """The apps owned by ``email`` (before user ids) now belong to the user ``user_id``."""

        def renamed(record: AppRecord) -> AppRecord | None:
            if record.owner != email:
                return None
            record.owner, record.owner_email = user_id, email
            return record

        for record in await self.list():
            if record.owner == email:
                await self.mutate(record.id, renamed)

    async def list(self) -> list[AppRecord]:
        """Every app, oldest first: from the view when the store watches (and it caught up),
        else read from the bucket, the values asked for side by side."""
        viewed = await self._view.records() if self._view else None
        if viewed is None:
            if self._view:
                log.warning("the apps view did not catch up; reading the bucket (and watching anew)")
                await self._view.stop()
                await self.watch()
            keys = await kv_keys(self.kv, APP_PREFIX)
            found = await asyncio.gather(*(self._valid(key[len(APP_PREFIX) :]) for key in keys))
            viewed = [record for record in found if record]
        return sorted(viewed, key=lambda r: r.created_at)

    async def insert(self, record: AppRecord) -> bool:
        """Store a new record; False if one with this id exists already."""
        try:
            await self.kv.create(APP_PREFIX + record.id, record.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def mutate(
        self, app_id: str, change: Callable[[AppRecord], AppRecord | None], attempts: int = 20
    ) -> AppRecord | None:
        """Apply ``change`` to the stored record with compare-and-set, retrying on conflicts.

        ``change`` returns the new record, or None to leave it as it is. Returns the stored
        record after the change, or None if there is no such app.
        """
        key = APP_PREFIX + app_id
        for _ in range(attempts):
            try:
                entry = await self.kv.get(key)
            except (KeyNotFoundError, InvalidKeyError):
                return None
            if not entry.value:
                return None
            current = AppRecord.model_validate_json(entry.value)
            updated = change(current.model_copy(deep=True))
            if updated is None or updated == current:
                return current
            updated.updated_at = utcnow()
            try:
                await self.kv.update(key, updated.model_dump_json().encode(), last=entry.revision)
            except KeyWrongLastSequenceError:
                await asyncio.sleep(0.01)
                continue
            return updated
        raise Conflict(f"app {app_id} kept changing; gave up after {attempts} attempts")

    async def remove(self, app_id: str) -> None:
        """Forget the app entirely, its compose file too (purge keeps no history behind)."""
        await self.kv.purge(APP_PREFIX + app_id)
        await self.kv.purge(COMPOSE_PREFIX + app_id)

    async def compose(self, app_id: str) -> bytes | None:
        """The app's exported compose file (None: not rendered yet)."""
        try:
            return bytes((await self.kv.get(COMPOSE_PREFIX + app_id)).value or b"")
        except (KeyNotFoundError, InvalidKeyError):
            return None

    async def keep_compose(self, app_id: str, text: bytes) -> None:
        """Keep the app's compose file (written only when it changed)."""
        if await self.compose(app_id) != text:
            await self.kv.put(COMPOSE_PREFIX + app_id, text)

    @contextlib.asynccontextmanager
    async def admitting(self, owner: str) -> AsyncIterator[None]:
        """One admission at a time per owner, across every API and deployer replica: the
        admission policy counts the owner's apps, so a check and the insert (or change) it
        allows must not interleave with another's (ten parallel creates would all fit an empty
        quota). A lease in the bucket; one left by a crashed holder expires."""
        key = ADMISSION_PREFIX + hashlib.sha256(owner.encode()).hexdigest()[:32]
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + ADMISSION_WAIT_SECONDS
        revision = await self._take_lease(key, holder, deadline)
        try:
            yield
        finally:
            with contextlib.suppress(APIError):
                await self.kv.delete(key, last=revision)  # unless it expired and another took it

    async def _take_lease(self, key: str, holder: str, deadline: float) -> int:
        while True:
            lease = (
                AdmissionLease(holder=holder, until=time.time() + ADMISSION_LEASE_SECONDS).model_dump_json().encode()
            )
            try:
                return await self.kv.create(key, lease)
            except KeyWrongLastSequenceError:
                pass
            with contextlib.suppress(KeyNotFoundError, KeyWrongLastSequenceError):
                entry = await self.kv.get(key)
                if AdmissionLease.expired(entry.value, time.time()):
                    return await self.kv.update(key, lease, last=entry.revision)  # its holder is gone
            if time.monotonic() > deadline:
                raise Conflict("another admission for this owner is taking too long; try again")
            await asyncio.sleep(0.01)

    async def next_number(self) -> int:
        """The next number of the suite-wide app sequence (atomic across replicas)."""
        while True:
            try:
                entry = await self.kv.get(SEQUENCE_KEY)
            except KeyNotFoundError:
                try:
                    await self.kv.create(SEQUENCE_KEY, b"1")
                    return 1
                except KeyWrongLastSequenceError:
                    continue
            number = int(entry.value or b"0") + 1
            try:
                await self.kv.update(SEQUENCE_KEY, str(number).encode(), last=entry.revision)
                return number
            except KeyWrongLastSequenceError:
                await asyncio.sleep(0.005)

    async def new_app_id(self, name: str) -> str:
        return format_app_id(name, await self.next_number())

    async def remember_creation(self, event_id: str, app_id: str) -> None:
        """Record that the app.created event ``event_id`` created ``app_id`` (the API does this
        before it publishes, so the deployer knows the app is not a new one)."""
        await self.kv.put(CREATED_BY_PREFIX + _safe_key(event_id), app_id.encode())

    async def app_id_for_event(self, event_id: str, name: str) -> tuple[str, bool]:
        """The app id that the creating event ``event_id`` maps to, allocating one the first
        time. Returns (app id, True if allocated now)."""
        key = CREATED_BY_PREFIX + _safe_key(event_id)
        try:
            entry = await self.kv.get(key)
            return (entry.value or b"").decode(), False
        except KeyNotFoundError:
            pass
        app_id = await self.new_app_id(name)
        try:
            await self.kv.create(key, app_id.encode())
        except KeyWrongLastSequenceError:
            entry = await self.kv.get(key)
            return (entry.value or b"").decode(), False
        return app_id, True


def _safe_key(text: str) -> str:
    """KV keys allow only [-/_=.a-zA-Z0-9]; anything else becomes '_'."""
    return "".join(c if c.isalnum() or c in "-_=" else "_" for c in text)[:200]
