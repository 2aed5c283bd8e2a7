"""Watching CRANE with NATS directly, user by user.

- The auth callout: NATS asks the API about every connection that is none of its configured
  users. A connection that presents a valid API token (as its NATS token, or password) is
  admitted as that user, for a lease (or until the token expires, if sooner), with the client user's rights plus a
  subscription to its own view; anything else is refused.
- The views: each event about an app is republished to ``view.<owner key>.<event type>``
  (core NATS), so a user's subscription carries their apps' events and nothing of anyone else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from crane_shared import subjects as s
from crane_shared.bus import Bus
from crane_shared.events import Event
from crane_shared.nats_auth import view_subject, watcher_permissions
from crane_shared.nats_jwt import AuthRequest, InvalidRequest, KeyPair, encode, response, user_claims
from crane_shared.store import AppStore
from crane_shared.tokens import Authenticator, TokenError

from .event_view import Owners

log = logging.getLogger("crane.api.nats")


class Callout:
    def __init__(self, auth: Authenticator, key: KeyPair, lease_seconds: float) -> None:
        self.auth = auth
        self.key = key
        self.lease_seconds = lease_seconds

    async def answer(self, raw: bytes) -> bytes | None:
        """The signed answer to one authorization request (None: not a request at all)."""
        try:
            request = AuthRequest.read(raw)
        except InvalidRequest as exc:
            log.warning("ignored an authorization request: %s", exc)
            return None
        if not request.token:
            return response(request, self.key, error="connect with your CRANE API token as the NATS token")
        try:
            user = await self.auth.user(request.token)
            # Admitted for a lease, not for the token's whole life: each reconnection is asked
            # about again, so a token revoked or a role changed loses its view within the lease.
            expires = min(float(self.auth.tokens.claims(request.token)["exp"]), time.time() + self.lease_seconds)
        except TokenError as exc:
            return response(request, self.key, error=f"the API token is not valid: {exc}")
        permissions = watcher_permissions(user.id, user.is_admin)
        signed = encode(user_claims(request, user.email, permissions, expires), self.key)
        log.info("NATS connection admitted for %s", user.email)
        return response(request, self.key, user_jwt=signed)


async def serve_callout(bus: Bus, callout: Callout) -> None:
    async def on_request(msg: Msg) -> None:
        try:
            answer = await callout.answer(msg.data)
        except Exception:  # noqa: BLE001 - a failure refuses this connection, never the next
            log.exception("the auth callout failed")
            return
        if answer is not None:
            await msg.respond(answer)

    await bus.nc.subscribe(s.AUTH_CALLOUT, cb=on_request)


async def publish_views(bus: Bus, apps: AppStore, stop: asyncio.Event) -> None:
    """Republish every new event about an app to its owner's view, until ``stop``."""

    owners = Owners(apps.owner_of)
    sub = await bus.watch_events(ConsumerConfig(deliver_policy=DeliverPolicy.NEW))
    try:
        while not stop.is_set():
            try:
                msg = await sub.next_msg(timeout=1)
            except TimeoutError:
                continue
            try:
                event = Event.model_validate_json(msg.data)
            except ValidationError:
                continue
            owner = await owners.of(event)
            if owner is not None:
                await bus.nc.publish(view_subject(owner, event.type), msg.data)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
