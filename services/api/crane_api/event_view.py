"""Which events one user may watch (GET /events): those of their own apps, or of one of them;
admins see every event. An event names its app in ``subject`` (or ``data.app_id``); its owner is
the app record's (a user id, so an app given to another user shows them its whole history), or,
for an app gone since, the owner its ``app.created`` said. An event whose app cannot be told is
shown to admins only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from crane_shared import subjects as s
from crane_shared.correlation import chain_of
from crane_shared.events import Event

OwnerOf = Callable[[str], Awaitable[str | None]]
MAX_REMEMBERED = 10_000


class Owners:
    """Whose app each event is about, looked up once per app and remembered (bounded)."""

    def __init__(self, owner_of: OwnerOf) -> None:
        self._owner_of = owner_of
        self._owners: dict[str, str] = {}
        self._chains: dict[str, str] = {}  # chain -> owner, of apps published straight to NATS

    async def of(self, event: Event) -> str | None:
        app_id = event_app(event)
        # An app.created names its owner (a CRANE service published it: the API, or the deployer
        # with the owner of a client's token). Published straight to NATS, it has no app id yet:
        # CRANE gives it one when it handles it.
        created_by = event.data.get("owner") if event.type == s.APP_CREATED else None
        if app_id is None:
            if not isinstance(created_by, str):
                return None
            # What follows in its chain before its record is stored (its admission) is its owner's.
            _bounded_put(self._chains, chain_of(event), created_by)
            return created_by
        if app_id in self._owners:
            return self._owners[app_id]
        owner = await self._owner_of(app_id)
        if owner is None:
            owner = created_by if isinstance(created_by, str) else self._chains.get(chain_of(event))
        if owner is not None:  # an app not stored yet, and not known from its chain, is asked again
            _bounded_put(self._owners, app_id, owner)
        return owner


def _bounded_put(remembered: dict[str, str], key: str, value: str) -> None:
    if key not in remembered and len(remembered) >= MAX_REMEMBERED:
        remembered.pop(next(iter(remembered)))
    remembered[key] = value


class EventView:
    def __init__(self, user_id: str, is_admin: bool, owner_of: OwnerOf, app: str | None = None) -> None:
        self.user_id = user_id
        self.is_admin = is_admin
        self.app = app
        self._owners = Owners(owner_of)

    async def shows(self, event: Event) -> bool:
        owner = await self._owners.of(event)  # (an app.created teaches its owner either way)
        if self.app is not None and event_app(event) != self.app:
            return False
        return self.is_admin or (owner is not None and owner == self.user_id)


def event_app(event: Event) -> str | None:
    app_id = event.subject or event.data.get("app_id")
    return app_id if isinstance(app_id, str) and app_id else None
