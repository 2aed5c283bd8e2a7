"""NATS JWTs for the auth callout (nats_callout in the API): reading the server's authorization
request, and signing the user it admits and the response that carries it, with the callout's
account key (an nkey, ed25519). The format is nats-io/jwt's: a JWT whose header says
``ed25519-nkey``, whose ``jti`` is the base32 SHA-256 of the claims, signed over
``header.claims``.

Pure: the key pair comes in, nothing is read or sent here."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
GLOBAL_ACCOUNT = "$G"  # the account of every user in NATS's configuration mode


class KeyPair(Protocol):
    public_key: bytes

    def sign(self, data: bytes) -> bytes: ...


class InvalidRequest(ValueError):
    """Not an authorization request NATS would send."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def encode(claims: dict[str, Any], key: KeyPair, now: float | None = None) -> str:
    """``claims`` signed by ``key`` (its public key becomes the issuer)."""
    body = {**claims, "iss": key.public_key.decode(), "iat": int(now if now is not None else time.time()), "jti": ""}
    body["jti"] = base64.b32encode(hashlib.sha256(_compact(body)).digest()).decode().rstrip("=")
    signing_input = f"{_b64(_compact(HEADER))}.{_b64(_compact(body))}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT (its signature is the server's, on a subject only NATS publishes)."""
    try:
        claims = json.loads(_unb64(token.split(".")[1]))
    except (IndexError, ValueError) as exc:
        raise InvalidRequest(f"not a JWT: {exc}") from None
    if not isinstance(claims, dict):
        raise InvalidRequest("the claims are not an object")
    return claims


@dataclass(frozen=True)
class AuthRequest:
    """Who connects: the key the server made for the connection, the server's id, and what the
    client presented (a token, or a user and password)."""

    user_nkey: str
    server_id: str
    token: str | None
    user: str | None

    @classmethod
    def read(cls, raw: bytes) -> AuthRequest:
        nats = claims_of(raw.decode(errors="replace")).get("nats") or {}
        try:
            options = nats.get("connect_opts") or {}
            token = options.get("auth_token") or options.get("pass")
            return cls(str(nats["user_nkey"]), str(nats["server_id"]["id"]), token, options.get("user"))
        except (KeyError, TypeError) as exc:
            raise InvalidRequest(f"an authorization request without {exc}") from None


def user_claims(request: AuthRequest, name: str, permissions: dict[str, Any], expires: float | None) -> dict[str, Any]:
    """The user NATS admits for this connection, with ``permissions`` ({"pub": {"allow": [...]},
    "sub": {"allow": [...]}}) until ``expires`` (Unix seconds)."""
    claims: dict[str, Any] = {
        "sub": request.user_nkey,
        "name": name,
        "aud": GLOBAL_ACCOUNT,
        "nats": {**permissions, "type": "user", "version": 2},
    }
    if expires is not None:
        claims["exp"] = int(expires)
    return claims


def response(request: AuthRequest, key: KeyPair, *, user_jwt: str | None = None, error: str | None = None) -> bytes:
    """The callout's answer: the signed user, or the error the server logs (and refuses)."""
    nats: dict[str, Any] = {"type": "authorization_response", "version": 2}
    if user_jwt is not None:
        nats["jwt"] = user_jwt
    else:
        nats["error"] = error or "not authorized"
    return encode({"sub": request.user_nkey, "aud": request.server_id, "nats": nats}, key).encode()


def new_account_seed() -> bytes:
    """A new account nkey seed (the callout's signing key)."""
    import nkeys

    seed: bytes = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_ACCOUNT)
    return seed


def key_pair(seed: bytes) -> KeyPair:
    import nkeys

    pair: KeyPair = nkeys.from_seed(seed)
    return pair
