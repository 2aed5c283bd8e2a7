"""The pure parts of the live streams: cutting the Engine's log chunks into lines, and which
events a user may watch."""

from __future__ import annotations

import asyncio

from crane_api.event_view import EventView
from crane_api.sse import message
from crane_shared import subjects as s
from crane_shared.appspec import AppSpec
from crane_shared.events import Alert, AppCreated, AppRemoved, AppScaled, new_event
from crane_shared.live_logs import MAX_LINE_CHARS, LineSplitter

SPEC = AppSpec.model_validate({"name": "old", "services": [{"name": "web", "image": "nginx"}]})
STAMP = "2026-11-28T06:33:13.123456789Z"


def test_a_line_cut_across_chunks_comes_out_whole_with_its_timestamp():
    splitter = LineSplitter("web-1", "web")
    assert splitter.feed(f"{STAMP} hel".encode()) == []
    lines = splitter.feed(f"lo\n{STAMP} second\r\n{STAMP} thi".encode())
    assert [(x.time, x.line) for x in lines] == [(STAMP, "hello"), (STAMP, "second")]
    assert [x.line for x in splitter.flush()] == ["thi"]
    assert splitter.flush() == []
    assert splitter.last_time == STAMP and lines[0].replica == "web-1" and lines[0].service == "web"


def test_a_line_without_a_timestamp_is_kept_as_it_is():
    lines = LineSplitter("r", "s").feed(b"no stamp here\n\n")
    assert [(x.time, x.line) for x in lines] == [(None, "no stamp here"), (None, "")]


def test_an_endless_line_is_sent_in_bounded_pieces():
    splitter = LineSplitter("r", "s")
    out = splitter.feed(b"x" * (MAX_LINE_CHARS + 10))
    assert len(out) == 1 and len(out[0].line) <= MAX_LINE_CHARS + 40  # cut, and it says so
    assert splitter.flush() == []


def test_sse_message_puts_each_line_of_data_on_its_own_data_field():
    assert message("line", "a\nb", id=7) == "id: 7\nevent: line\ndata: a\ndata: b\n\n"


def _owners(table: dict[str, str]):
    async def owner_of(app_id: str) -> str | None:
        return table.get(app_id)

    return owner_of


def _shows(view: EventView, event) -> bool:
    return asyncio.run(view.shows(event))


def test_a_user_sees_their_own_apps_events_only():
    owners = _owners({"mine-1": "me@x.org", "theirs-2": "them@x.org"})
    view = EventView("me@x.org", False, owners)
    assert _shows(
        view, new_event(s.APP_SCALED, AppScaled(app_id="mine-1", previous_replicas=1, replicas=2), source="test")
    )
    assert not _shows(
        view, new_event(s.APP_SCALED, AppScaled(app_id="theirs-2", previous_replicas=1, replicas=2), source="test")
    )
    assert not _shows(
        view, new_event(s.APP_SCALED, AppScaled(app_id="gone-3", previous_replicas=1, replicas=2), source="test")
    )
    # An event that names no app (an alert about the suite) is an admin's only.
    assert not _shows(view, new_event(s.ALERT_FIRING, Alert(alertname="x", fingerprint="f"), source="test"))
    assert _shows(
        EventView("root@x.org", True, owners),
        new_event(s.ALERT_FIRING, Alert(alertname="x", fingerprint="f"), source="test"),
    )


def test_one_apps_view_hides_the_users_other_apps():
    owners = _owners({"mine-1": "me@x.org", "mine-2": "me@x.org"})
    view = EventView("me@x.org", False, owners, app="mine-2")
    assert not _shows(
        view, new_event(s.APP_SCALED, AppScaled(app_id="mine-1", previous_replicas=1, replicas=2), source="test")
    )
    assert _shows(
        view, new_event(s.APP_SCALED, AppScaled(app_id="mine-2", previous_replicas=1, replicas=2), source="test")
    )


def test_an_app_gone_from_the_store_keeps_the_owner_its_creation_named():
    created = new_event(s.APP_CREATED, AppCreated(app_id="old-4", owner="me@x.org", spec=SPEC), source="test")
    view = EventView("me@x.org", False, _owners({}))
    assert _shows(view, created)
    assert _shows(view, new_event(s.APP_REMOVED, AppRemoved(app_id="old-4"), source="test"))
    assert not _shows(EventView("them@x.org", False, _owners({})), created)


def test_the_record_names_the_owner_before_the_creation_does():
    # An app given to another user (their account deleted with apps=reassign): its creation
    # names the old owner, the record the new one, who sees its whole history; the old id not.
    created = new_event(s.APP_CREATED, AppCreated(app_id="kept-5", owner="u-old", spec=SPEC), source="test")
    owners = _owners({"kept-5": "u-heir"})
    assert _shows(EventView("u-heir", False, owners), created)
    assert not _shows(EventView("u-old", False, owners), created)


def test_an_app_published_straight_to_nats_is_its_owners_before_its_record_exists():
    from crane_shared.events import PolicyAdmission

    table: dict[str, str] = {}
    view = EventView("u-ada", False, _owners(table))
    created = new_event(s.APP_CREATED, AppCreated(owner="u-ada", spec=SPEC), source="test")  # no id yet
    admitted = new_event(
        s.POLICY_ADMISSION, PolicyAdmission(app_id="pub-6", allowed=True), source="test", correlationid=created.id
    )
    assert _shows(view, created) and _shows(view, admitted)  # the record is not stored yet
    assert not _shows(EventView("u-bob", False, _owners(table)), created)
    # An event of an app not stored yet, and not in a known chain, is not remembered as nobody's:
    early = new_event(s.APP_SCALED, AppScaled(app_id="late-7", previous_replicas=0, replicas=1), source="test")
    assert not _shows(view, early)
    table["late-7"] = "u-ada"  # its record is stored
    assert _shows(view, early)
