"""Passwords (argon2id). Bearer tokens are crane_shared.tokens: the signing key is generated on
first start and kept in the config bucket, so every API replica and the deployer verify with the
same key and no key ever appears in code or configuration."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
