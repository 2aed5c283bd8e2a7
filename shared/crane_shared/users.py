"""User accounts in the users bucket, keyed by their email."""

from __future__ import annotations

from typing import Literal

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field

from crane_shared.store import kv_items

FIRST_ADMIN_KEY = "first-admin"


class Quota(BaseModel):
    """The most one user's apps may use together (replicas, CPUs, memory), checked on admission."""

    model_config = ConfigDict(extra="forbid")
    replicas: int = Field(ge=0, le=10_000)
    cpus: float = Field(ge=0, le=10_000)
    memory_mb: int = Field(ge=0, le=10_000_000)


class User(BaseModel):
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


def user_key(email: str) -> str:
    """KV keys allow few characters; the hex of the lower-cased email is stable and safe."""
    return "user." + email.strip().lower().encode().hex()


class UserStore:
    def __init__(self, users: KeyValue, config: KeyValue) -> None:
        self.users = users
        self.config = config

    async def get(self, email: str) -> User | None:
        try:
            entry = await self.users.get(user_key(email))
        except KeyNotFoundError:
            return None
        return User.model_validate_json(entry.value) if entry.value else None

    async def create(self, user: User) -> bool:
        """Store a new user; False if the email is taken."""
        try:
            await self.users.create(user_key(user.email), user.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def save(self, user: User) -> None:
        await self.users.put(user_key(user.email), user.model_dump_json().encode())

    async def delete(self, email: str) -> None:
        await self.users.purge(user_key(email))

    async def all(self) -> list[User]:
        values = (await kv_items(self.users, "user.")).values()
        return sorted((User.model_validate_json(v) for v in values), key=lambda u: u.email)

    async def ensure_admin(self, email: str, password_hash: str) -> bool:
        """Make ``email`` an admin account, created with ``password_hash`` if it does not exist
        (an existing one keeps its password). True if it was created."""
        admin = User(email=email.lower(), full_name="Administrator", role="admin", password_hash=password_hash)
        created = await self.create(admin)
        user = await self.get(email)
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
