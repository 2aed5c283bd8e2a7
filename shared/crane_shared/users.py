"""User accounts in the users bucket.

A user is known by an id that is made once and never reused (``u-<32 hex>``); their apps, tokens,
event views and uploads name that id, never the email. The email is only how they log in: an
index key leads from it to the id. So a user deleted and an email registered again make a new
user who holds nothing of the old one's, and no token of the old one's is theirs."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from nats.js.errors import InvalidKeyError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from crane_shared.store import kv_items

FIRST_ADMIN_KEY = "first-admin"
ACCOUNT_PREFIX = "account."
EMAIL_PREFIX = "email."
LEGACY_PREFIX = "user."  # accounts before user ids: keyed by the hex of their email
USER_ID_PATTERN = r"^u-[0-9a-f]{32}$"


def new_user_id() -> str:
    return "u-" + uuid.uuid4().hex


class Quota(BaseModel):
    """The most one user's apps may use together (replicas, CPUs, memory), checked on admission."""

    model_config = ConfigDict(extra="forbid")
    replicas: int = Field(ge=0, le=10_000)
    cpus: float = Field(ge=0, le=10_000)
    memory_mb: int = Field(ge=0, le=10_000_000)
    # Networks their apps may take from CRANE's address pool together (None: the policy's default).
    networks: int | None = Field(default=None, ge=0, le=10_000)
    # What their uploads (contexts, folders, secrets, configs) and their built images may take
    # on disk, each (None: the suite's CRANE_STORAGE_QUOTA_MB).
    storage_mb: int | None = Field(default=None, ge=0, le=10_000_000)

    @model_serializer(mode="wrap")
    def _without_unset_limits(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A limit left to the suite's default is not written (as before it was a field)."""
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


class User(BaseModel):
    """A user account: who they are (an id never reused), how they log in, what they may do."""

    id: str = Field(default_factory=new_user_id, pattern=USER_ID_PATTERN)
    email: str
    full_name: str
    role: Literal["user", "admin"] = "user"
    password_hash: str
    # Tokens issued before this time (seconds since the epoch) are no longer accepted.
    tokens_valid_after: float = 0.0
    # None: the admission policy's default quota applies.
    quota: Quota | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class LoginAttempts(BaseModel):
    """One login budget's counter (the API's login_limit.py): attempts in the window that began
    at ``window_start`` (seconds since the epoch)."""

    count: int = Field(default=0, ge=0)
    window_start: float = 0.0


def account_key(user_id: str) -> str:
    return ACCOUNT_PREFIX + user_id


def _email_hex(email: str) -> str:
    """KV keys allow few characters; the hex of the lower-cased email is stable and safe."""
    return email.strip().lower().encode().hex()


def email_key(email: str) -> str:
    return EMAIL_PREFIX + _email_hex(email)


def legacy_key(email: str) -> str:
    return LEGACY_PREFIX + _email_hex(email)


class UserStore:
    def __init__(self, users: KeyValue, config: KeyValue) -> None:
        self.users = users
        self.config = config

    async def get(self, user_id: str) -> User | None:
        """The user with this id (None: no such user, or not an id at all)."""
        if not user_id.startswith("u-"):
            return None
        try:
            entry = await self.users.get(account_key(user_id))
        except (KeyNotFoundError, InvalidKeyError):  # no such user, or no id could be named so
            return None
        return User.model_validate_json(entry.value) if entry.value else None

    async def _id_of(self, email: str) -> tuple[str | None, int]:
        """The id the email leads to, and the index entry's revision (0: none)."""
        try:
            entry = await self.users.get(email_key(email))
        except KeyNotFoundError:
            return None, 0
        return (entry.value.decode() if entry.value else None), entry.revision or 0

    async def by_email(self, email: str) -> User | None:
        user_id, _ = await self._id_of(email)
        user = await self.get(user_id) if user_id else None
        return user if user is not None and user.email == email.strip().lower() else None

    async def create(self, user: User) -> bool:
        """Store a new user; False if the email is taken. The email's index entry is created
        first, so of two registrations of one email exactly one wins; an entry whose account is
        gone (a delete or create stopped half-way) is taken over."""
        key = email_key(user.email)
        try:
            await self.users.create(key, user.id.encode())
        except KeyWrongLastSequenceError:
            holder, revision = await self._id_of(user.email)
            if holder is not None and await self.get(holder) is not None:
                return False
            try:
                await self.users.update(key, user.id.encode(), last=revision)
            except KeyWrongLastSequenceError:
                return False
        await self.users.put(account_key(user.id), user.model_dump_json().encode())
        return True

    async def save(self, user: User) -> None:
        await self.users.put(account_key(user.id), user.model_dump_json().encode())

    async def delete(self, user: User) -> None:
        """Remove the account, then its email's index entry if it still leads to it."""
        await self.users.purge(account_key(user.id))
        holder, revision = await self._id_of(user.email)
        if holder == user.id:
            with contextlib.suppress(KeyWrongLastSequenceError):  # registered again meanwhile
                await self.users.delete(email_key(user.email), last=revision)

    async def all(self) -> list[User]:
        values = (await kv_items(self.users, ACCOUNT_PREFIX)).values()
        return sorted((User.model_validate_json(v) for v in values), key=lambda u: u.email)

    async def ensure_admin(self, email: str, password_hash: str) -> bool:
        """Make ``email`` an admin account, created with ``password_hash`` if it does not exist
        (an existing one keeps its password). True if it was created."""
        admin = User(email=email.lower(), full_name="Administrator", role="admin", password_hash=password_hash)
        created = await self.create(admin)
        user = await self.by_email(email)
        if user is not None and user.role != "admin":
            user.role = "admin"
            await self.save(user)
        return created

    async def claim_first_admin(self, email: str) -> bool:
        """True for exactly one caller in the suite's life: the first user to register."""
        try:
            await self.config.create(FIRST_ADMIN_KEY, email.encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def migrate_legacy(self, moved: Callable[[str, str], Awaitable[None]]) -> int:
        """Give each account from before user ids (keyed by its email) an id. ``moved(email,
        id)`` hands what the email owned to the id before the old entry goes, so a stop half-way
        leaves the old entry to be moved again. Safe to run in several API replicas at once:
        the email's index entry decides the one id. Returns how many accounts moved."""
        count = 0
        for key, value in (await kv_items(self.users, LEGACY_PREFIX)).items():
            legacy = User.model_validate_json(value)  # a fresh id, kept only if it wins the index
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self.users.create(email_key(legacy.email), legacy.id.encode())
            user_id, _ = await self._id_of(legacy.email)
            if user_id is None:
                continue
            user = legacy.model_copy(update={"id": user_id})
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self.users.create(account_key(user_id), user.model_dump_json().encode())
            await moved(user.email, user_id)
            await self.users.purge(key)
            count += 1
        return count
