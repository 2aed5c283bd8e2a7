"""Bearer tokens (JWT, HS256) and who they belong to. The API issues them; the API and the
deployer (for events clients publish straight to NATS) verify them the same way: signature,
expiry, the user still exists, not revoked one by one (logout) or all at once (admin)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from .appspec import utcnow
from .secrets import SIGNING_KEY, ensure_secret, read_secret
from .users import User, UserStore

ALGORITHM = "HS256"


async def load_signing_key(keys: KeyValue) -> str:
    """The suite's token signing key, made by the API (which signs) on first start."""
    return await ensure_secret(keys, SIGNING_KEY)


async def verifying_key(keys: KeyValue) -> str:
    """The signing key, for the deployer (which verifies): it waits for the API to make it."""
    return await read_secret(keys, SIGNING_KEY)


class TokenError(ValueError):
    pass


class Tokens:
    def __init__(self, key: str, ttl: timedelta) -> None:
        self._key = key
        self._ttl = ttl

    def issue(self, user_id: str) -> str:
        """A token for the user with this id (never their email: an email may be registered
        again by someone else, an id is never reused)."""
        now = utcnow()
        # iat to the microsecond, so a revocation at time t rejects exactly the tokens issued before t.
        claims = {"sub": user_id, "iat": now.timestamp(), "exp": now + self._ttl, "jti": uuid.uuid4().hex}
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


class Authenticator:
    """Who a token belongs to, checked against the users and revocations in NATS KV."""

    def __init__(self, tokens: Tokens, users: UserStore, config: KeyValue) -> None:
        self.tokens = tokens
        self.users = users
        self.config = config

    async def revoked(self, jti: str) -> bool:
        try:
            await self.config.get(f"revoked.{jti}")
        except KeyNotFoundError:
            return False
        return True

    async def revoke(self, jti: str) -> None:
        await self.config.put(f"revoked.{jti}", b"1")

    async def user(self, token: str) -> User:
        """The user ``token`` was issued to; raises TokenError if it is not valid (any more)."""
        claims = self.tokens.claims(token)
        user = await self.users.get(str(claims["sub"]))
        if user is None:
            raise TokenError("the token's user does not exist")
        if claims["iat"] < user.tokens_valid_after or await self.revoked(str(claims["jti"])):
            raise TokenError("the token was revoked")
        return user
