"""Passwords (argon2id) and bearer tokens (JWT, HS256). The signing key is generated on first
start and kept in the config bucket, so every API replica signs and verifies with the same key
and no key ever appears in code or configuration."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from nats.js.kv import KeyValue

from crane_shared.appspec import utcnow
from crane_shared.secrets import SIGNING_KEY, ensure_secret

ALGORITHM = "HS256"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def load_signing_key(config: KeyValue) -> str:
    """The suite's token signing key, created atomically by whichever replica starts first."""
    return await ensure_secret(config, SIGNING_KEY)


class TokenError(ValueError):
    pass


class Tokens:
    def __init__(self, key: str, ttl: timedelta) -> None:
        self._key = key
        self._ttl = ttl

    def issue(self, email: str) -> str:
        now = utcnow()
        # iat to the microsecond, so a revocation at time t rejects exactly the tokens issued before t.
        claims = {"sub": email, "iat": now.timestamp(), "exp": now + self._ttl, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of a valid, unexpired token (sub, iat, exp, jti); raises TokenError otherwise."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat", "jti"]}
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        return claims
