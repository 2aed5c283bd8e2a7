"""Which events one user may watch (GET /events): those of their own apps, or of one of them;
admins see every event. An event names its app in ``subject`` (or ``data.app_id``); its owner is
the app record's (a user id, so an app given to another user shows them its whole history), or,
for an app gone since, the owner its ``app.created`` said. An event whose app cannot be told is
shown to admins only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from crane_shared import subjects as s
from crane_shared.events import Event

OwnerOf = Callable[[str], Awaitable[str | None]]
MAX_REMEMBERED = 10_000


class Owners:
    """Whose app each event is about, looked up once per app and remembered (bounded)."""

    def __init__(self, owner_of: OwnerOf) -> None:
        self._owner_of = owner_of
        self._owners: dict[str, str | None] = {}

    async def of(self, event: Event) -> str | None:
        app_id = event_app(event)
        if app_id is None:
            return None
        if app_id not in self._owners:
            self._remember(app_id, await self._owner_of(app_id))
        if self._owners[app_id] is None and event.type == s.APP_CREATED and isinstance(event.data.get("owner"), str):
            self._remember(app_id, event.data["owner"])
        return self._owners[app_id]

    def _remember(self, app_id: str, owner: str | None) -> None:
        if len(self._owners) >= MAX_REMEMBERED:
            self._owners.pop(next(iter(self._owners)))
        self._owners[app_id] = owner


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
