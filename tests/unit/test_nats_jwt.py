"""The auth callout's JWTs (pure): signed so NATS accepts them, read as NATS writes them, and the
rights a watcher gets: its own view of the events, nothing of another user's."""

from __future__ import annotations

import base64
import json

import nkeys
import pytest

from crane_shared.nats_auth import view_subject, watcher_permissions
from crane_shared.nats_jwt import (
    AuthRequest,
    InvalidRequest,
    claims_of,
    encode,
    key_pair,
    new_account_seed,
    response,
    user_claims,
)
from tests.harness.subjects import CLIENT_MAY_NOT_PUBLISH, CLIENT_MAY_PUBLISH, allowed


def _jwt(claims: dict) -> bytes:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"e30.{part}.sig".encode()


REQUEST = _jwt({"nats": {"user_nkey": "UABC", "server_id": {"id": "NSERVER"}, "connect_opts": {"auth_token": "tok"}}})


def test_a_signed_jwt_verifies_with_the_issuers_public_key():
    key = key_pair(new_account_seed())
    token = encode({"sub": "UABC", "nats": {"type": "user"}}, key, now=1000)
    header, body, signature = token.split(".")
    claims = claims_of(token)
    assert claims["iss"] == key.public_key.decode() and claims["iat"] == 1000 and len(claims["jti"]) == 52
    raw_signature = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    assert nkeys.from_seed(new_account_seed()).public_key != key.public_key
    assert key.verify(f"{header}.{body}".encode(), raw_signature)
    with pytest.raises(nkeys.ErrInvalidSignature):
        key.verify(f"{header}.{body}x".encode(), raw_signature)


def test_the_request_gives_the_connections_key_server_and_token():
    request = AuthRequest.read(REQUEST)
    assert (request.user_nkey, request.server_id, request.token) == ("UABC", "NSERVER", "tok")
    with pytest.raises(InvalidRequest):
        AuthRequest.read(_jwt({"nats": {"connect_opts": {}}}))
    with pytest.raises(InvalidRequest):
        AuthRequest.read(b"not a jwt")


def test_the_response_carries_the_user_or_the_error_for_that_connection_and_server():
    key = key_pair(new_account_seed())
    request = AuthRequest.read(REQUEST)
    user = encode(user_claims(request, "ada@example.com", {"pub": {}, "sub": {}}, expires=2000.7), key)
    assert claims_of(user)["exp"] == 2000 and claims_of(user)["aud"] == "$G" and claims_of(user)["sub"] == "UABC"
    admitted = claims_of(response(request, key, user_jwt=user).decode())
    assert admitted["aud"] == "NSERVER" and admitted["sub"] == "UABC" and admitted["nats"]["jwt"] == user
    refused = claims_of(response(request, key, error="no").decode())
    assert refused["nats"]["error"] == "no" and "jwt" not in refused["nats"]


def test_a_watcher_may_read_its_own_view_only():
    mine = watcher_permissions("ada@example.com", is_admin=False)
    assert mine["sub"]["allow"] == ["_INBOX.>", view_subject("ada@example.com", ">")]
    assert view_subject("bob@example.com", ">") not in mine["sub"]["allow"]
    for subject in CLIENT_MAY_PUBLISH:  # the client user's rights...
        assert allowed(mine["pub"]["allow"], subject), subject
    for subject in CLIENT_MAY_NOT_PUBLISH:  # ...and no more
        assert not allowed(mine["pub"]["allow"], subject), subject
    assert allowed(mine["sub"]["allow"], view_subject("ada@example.com", "app.deployed"))
    for subject in (view_subject("bob@example.com", "app.deployed"), "app.deployed", "logs.shop-1", "view.x.y"):
        assert not allowed(mine["sub"]["allow"], subject), subject
    assert "view.>" in watcher_permissions("root@example.com", is_admin=True)["sub"]["allow"]


def test_a_token_is_admitted_to_nats_for_a_lease_so_a_revoked_one_loses_its_view():
    """NATS keeps an admitted connection until its user JWT expires: the callout gives a lease,
    not the API token's whole day, and every reconnection is judged again (a role changed, a
    token revoked, a user deleted: refused then)."""
    import asyncio
    import time
    from datetime import timedelta

    from crane_api.nats_watchers import Callout
    from crane_shared.tokens import TokenError, Tokens
    from crane_shared.users import User

    class Auth:  # the Authenticator's verdict, without the users bucket behind it
        def __init__(self, tokens: Tokens) -> None:
            self.tokens, self.valid = tokens, True

        async def user(self, token: str) -> User:
            self.tokens.claims(token)
            if not self.valid:
                raise TokenError("the token was revoked")
            return User(email="ada@example.com", full_name="Ada", password_hash="x", role="admin")

    def request(token: str) -> bytes:
        return _jwt({"nats": {"user_nkey": "UABC", "server_id": {"id": "NS"}, "connect_opts": {"auth_token": token}}})

    def admitted_until(answer: bytes) -> int:
        return claims_of(claims_of(answer.decode())["nats"]["jwt"])["exp"]

    key = key_pair(new_account_seed())
    day, short = Tokens("k" * 32, timedelta(days=1)), Tokens("k" * 32, timedelta(seconds=30))
    auth = Auth(day)
    callout = Callout(auth, key, lease_seconds=120)  # type: ignore[arg-type]
    assert admitted_until(asyncio.run(callout.answer(request(day.issue("u-1"))))) <= time.time() + 121
    assert admitted_until(asyncio.run(callout.answer(request(short.issue("u-1"))))) <= time.time() + 31
    auth.valid = False  # the role changed: the reconnection is refused
    refused = claims_of(asyncio.run(callout.answer(request(day.issue("u-1")))).decode())
    assert "revoked" in refused["nats"]["error"]
