"""Bus handlers for the app intents (created, updated, deleted, restart_requested).

They make the record say what the user wants and mark the app for reconciling; the
reconciler does the Docker work. Every handler is idempotent: a redelivered event changes
nothing the first delivery did not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import BaseModel

from crane_shared import subjects as s
from crane_shared.admission import admission_refusals
from crane_shared.appspec import AppRecord, AppSpec, AppStatus
from crane_shared.bus import Bus, Handler
from crane_shared.correlation import chain_of
from crane_shared.events import AppCreated, AppDeleted, AppRestartRequested, AppUpdated, Event, InvalidEvent
from crane_shared.intents import apply_restart, apply_update
from crane_shared.store import AppStore
from crane_shared.uploads import unclaimed_uploads

log = logging.getLogger("crane.deployer.intents")


class IntentHandlers:
    def __init__(
        self,
        bus: Bus,
        store: AppStore,
        mark: Callable[[str], None],
        updated: Callable[[], None] = lambda: None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.mark = mark
        self.updated = updated  # an app changed: what it no longer names may be released

    def table(self) -> dict[str, Handler]:
        return {
            s.APP_CREATED: self.on_created,
            s.APP_UPDATED: self.on_updated,
            s.APP_DELETED: self.on_deleted,
            s.APP_RESTART_REQUESTED: self.on_restart,
        }

    async def on_created(self, event: Event, payload: BaseModel) -> None:
        assert isinstance(payload, AppCreated)
        _refuse_unclaimed_uploads(payload.spec)
        app_id, allocated = await self.store.app_id_for_event(event.id, payload.spec.name)
        if allocated:
            if payload.app_id:
                raise InvalidEvent("data.app_id: CRANE assigns app ids; leave it out when publishing app.created")
            owner = payload.owner or "unowned"
            async with self.store.admitting(owner):  # no other admission of the owner's in between
                await self.admit(owner, payload.spec, announce=app_id)
                record = AppRecord(
                    id=app_id,
                    owner=owner,
                    owner_email=payload.owner_email,
                    spec=payload.spec,
                    correlationid=chain_of(event),
                )
                await self.store.insert(record)
            log.info("registered %s for %s (published directly)", app_id, record.owner)
        elif await self.store.mutate(app_id, _in_chain_of(event)) is None:
            log.info("app.created %s: %s was deleted since; nothing to do", event.id, app_id)
            return
        self.mark(app_id)

    async def on_updated(self, event: Event, payload: BaseModel) -> None:
        assert isinstance(payload, AppUpdated)
        if payload.spec is not None:
            _refuse_unclaimed_uploads(payload.spec)
        record = await self.store.get(payload.app_id)
        if record is None:
            raise InvalidEvent(f"data.app_id: there is no app {payload.app_id!r}")
        proposed = apply_update(record.model_copy(deep=True), payload)  # raises naming the field

        def change(current: AppRecord) -> AppRecord:
            return _in_chain_of(event)(apply_update(current, payload))

        if proposed.spec != record.spec:
            # Whoever published it, a spec is admitted before CRANE acts on it (the API's own
            # changes are in the record already, so they are not asked twice).
            async with self.store.admitting(record.owner):
                await self.admit(record.owner, proposed.spec, record.id, announce=record.id)
                await self.store.mutate(payload.app_id, change)
        else:
            await self.store.mutate(payload.app_id, change)
        self.mark(payload.app_id)
        self.updated()

    async def on_restart(self, event: Event, payload: BaseModel) -> None:
        assert isinstance(payload, AppRestartRequested)
        await self._require(payload.app_id)
        await self.store.mutate(payload.app_id, lambda r: _in_chain_of(event)(apply_restart(r, event.id)))
        self.mark(payload.app_id)

    async def on_deleted(self, event: Event, payload: BaseModel) -> None:
        assert isinstance(payload, AppDeleted)

        def deleting(record: AppRecord) -> AppRecord:
            record.status = AppStatus.DELETING
            return _in_chain_of(event)(record)

        # The reconciler removes it, in turn with any other work on the same app.
        await self.store.mutate(payload.app_id, deleting)
        self.mark(payload.app_id)

    async def admit(self, owner: str, spec: AppSpec, app_id: str | None = None, *, announce: str | None = None) -> None:
        """The admission policy's consent for a spec that did not come through the API (which
        asks itself); a refusal dead-letters the event with the policy's reasons."""
        # No answer, or unavailable: retried.
        reasons = await admission_refusals(self.bus, owner, spec, app_id, announce=announce)
        if reasons is not None:
            raise InvalidEvent("refused by the admission policy: " + "; ".join(reasons))

    async def _require(self, app_id: str) -> None:
        if await self.store.get(app_id) is None:
            raise InvalidEvent(f"data.app_id: there is no app {app_id!r}")


def in_chain(chain: str) -> Callable[[AppRecord], AppRecord]:
    """A record change: what the deployer does for the app next belongs to ``chain``."""

    def change(record: AppRecord) -> AppRecord:
        record.correlationid = chain
        return record

    return change


def _in_chain_of(event: Event) -> Callable[[AppRecord], AppRecord]:
    return in_chain(chain_of(event))


def _refuse_unclaimed_uploads(spec: AppSpec) -> None:
    """A trusted intent names files by digest or id: an upload in it was never checked."""
    problems = unclaimed_uploads(spec.model_dump(mode="json"))
    if problems:
        raise InvalidEvent("; ".join(f"data.spec.{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
