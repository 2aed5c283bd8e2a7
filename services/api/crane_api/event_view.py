"""Which events one user may watch (GET /events): those of their own apps, or of one of them;
admins see every event. An event names its app in ``subject`` (or ``data.app_id``); its owner is
the app record's, or, for an app gone since, the owner its ``app.created`` said. An event whose
app cannot be told is shown to admins only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from crane_shared import subjects as s
from crane_shared.events import Event

OwnerOf = Callable[[str], Awaitable[str | None]]
MAX_REMEMBERED = 10_000


class EventView:
    def __init__(self, email: str, is_admin: bool, owner_of: OwnerOf, app: str | None = None) -> None:
        self.email = email
        self.is_admin = is_admin
        self.app = app
        self._owner_of = owner_of
        self._owners: dict[str, str | None] = {}

    async def shows(self, event: Event) -> bool:
        app_id = event_app(event)
        if event.type == s.APP_CREATED and app_id and isinstance(event.data.get("owner"), str):
            self._remember(app_id, event.data["owner"])
        if self.app is not None and app_id != self.app:
            return False
        if self.is_admin:
            return True
        if app_id is None:
            return False
        if app_id not in self._owners:
            self._remember(app_id, await self._owner_of(app_id))
        return self._owners[app_id] == self.email

    def _remember(self, app_id: str, owner: str | None) -> None:
        if len(self._owners) >= MAX_REMEMBERED:
            self._owners.pop(next(iter(self._owners)))
        self._owners[app_id] = owner


def event_app(event: Event) -> str | None:
    app_id = event.subject or event.data.get("app_id")
    return app_id if isinstance(app_id, str) and app_id else None
