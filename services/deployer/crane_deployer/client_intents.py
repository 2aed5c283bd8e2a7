"""Intents that clients publish straight to NATS (client.app.*): check the API token in their
Crane-Token header, that the app is the user's, and the admission policy; then republish them
as the trusted app.* intent (with the owner taken from the token, never from the message).
Anything else is dead-lettered with the reason."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from crane_shared import subjects as s
from crane_shared.appspec import AppSpec
from crane_shared.build_context import ContextLimits
from crane_shared.bus import MESSAGE_HEADERS, Bus, Handler
from crane_shared.correlation import chain_of
from crane_shared.events import AppCreated, AppUpdated, Event, InvalidEvent, new_event
from crane_shared.intents import apply_update
from crane_shared.storage import Kind, Storage
from crane_shared.store import AppStore
from crane_shared.tokens import Authenticator, TokenError
from crane_shared.users import User

from .client_uploads import Claimed, claim_uploads, release_uploads

log = logging.getLogger("crane.deployer.clients")
Admit = Callable[[str, AppSpec, str | None], Awaitable[None]]


def trusted_intent_id(user: User, client_id: str) -> str:
    """The id of the intent republished for a client's: the same for a redelivered message (so
    JetStream drops the copy), and never one another user can cause: a client chooses its own
    ids (or gets the stream's sequence), so the user is part of it."""
    return "client-" + hashlib.sha256(f"{user.id}\n{client_id}".encode()).hexdigest()[:32]


class ClientIntents:
    def __init__(
        self,
        bus: Bus,
        store: AppStore,
        auth: Authenticator,
        admit: Admit,
        limits: ContextLimits,
        storage: Storage | None = None,
        storage_quota: Callable[[str], Awaitable[int]] | None = None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.auth = auth
        self.admit = admit
        self.limits = limits
        self.storage = storage  # uploads are recorded for the app's owner, within their quota
        self.storage_quota = storage_quota

    def table(self) -> dict[str, Handler]:
        return dict.fromkeys(s.CLIENT_INTENTS, self.on_intent)

    async def _user(self) -> User:
        token = MESSAGE_HEADERS.get().get(s.TOKEN_HEADER, "").removeprefix("Bearer ").strip()
        if not token:
            raise InvalidEvent(f"header {s.TOKEN_HEADER}: send your API token (from POST /api/v1/auth/login)")
        try:
            return await self.auth.user(token)
        except TokenError as exc:
            raise InvalidEvent(f"header {s.TOKEN_HEADER}: {exc}") from None

    async def on_intent(self, event: Event, payload: BaseModel) -> None:
        user = await self._user()
        intent = event.type.removeprefix(s.CLIENT_PREFIX + ".")
        trusted: BaseModel
        claimed_uploads: list[str] = []  # deleted once the trusted intent is published
        if isinstance(payload, AppCreated):
            if payload.owner not in (None, user.id, user.email):
                raise InvalidEvent(f"data.owner: you are {user.email}; apps you create are yours")
            claimed = await self._claim(payload.spec, user, user.id, event.id)
            claimed_uploads = claimed.uploads
            # admission runs when it is registered
            trusted = payload.model_copy(update={"owner": user.id, "owner_email": user.email, "spec": claimed.spec})
        else:
            app_id = str(getattr(payload, "app_id", ""))
            record = await self.store.get(app_id)
            if record is None or not (user.is_admin or record.owner == user.id):
                raise InvalidEvent(f"data.app_id: you have no app {app_id!r}")
            if isinstance(payload, AppUpdated) and payload.spec is not None:
                claimed = await self._claim(payload.spec, user, record.owner, event.id)
                claimed_uploads = claimed.uploads
                payload = payload.model_copy(update={"spec": claimed.spec})
            if isinstance(payload, AppUpdated) and (payload.spec is not None or payload.replicas is not None):
                proposed = apply_update(record.model_copy(deep=True), payload)  # raises naming the field
                await self.admit(record.owner, proposed.spec, record.id)
            trusted = payload
        source = f"crane/deployer (client {user.email})"
        republished = new_event(
            intent, trusted, source=source, id=trusted_intent_id(user, event.id), correlationid=chain_of(event)
        )
        await self.bus.publish(republished)
        await release_uploads(self.bus.objects, claimed_uploads)
        log.info("%s from %s accepted as %s", event.type, user.email, intent)

    async def _claim(self, spec: AppSpec, user: User, owner: str, event_id: str) -> Claimed:
        storage, quota_of = self.storage, self.storage_quota

        async def record(kind: Kind, name: str, size: int) -> None:
            if storage is not None and quota_of is not None:
                await storage.record(kind, name, owner, size, await quota_of(owner))

        return await claim_uploads(spec, user.id, self.bus.objects, self.limits, event_id, record)
