"""The event contract: envelope validation, payload models, and docs/events.md in step."""

import json
from pathlib import Path

import pytest

from crane_shared import subjects as s
from crane_shared.event_examples import EXAMPLES
from crane_shared.events import MAX_EVENT_BYTES, PAYLOADS, AppCreated, InvalidEvent, new_event, parse_event
from crane_shared.events_doc import render

REPO = Path(__file__).resolve().parents[2]


def envelope(subject: str, data: dict, **extra) -> bytes:
    return json.dumps({"type": subject, "data": data, **extra}).encode()


@pytest.mark.parametrize("subject", sorted(PAYLOADS))
def test_every_example_is_a_valid_event(subject):
    event, payload = parse_event(envelope(subject, EXAMPLES[subject]), subject, fallback_id="seq-1")
    assert event.type == subject
    assert isinstance(payload, PAYLOADS[subject])


def test_every_subject_has_an_example_and_lives_in_a_stream():
    assert set(EXAMPLES) == set(PAYLOADS)
    roots = {p.split(".")[0] for p in [*s.EVENTS_STREAM_SUBJECTS, *s.CLIENT_STREAM_SUBJECTS]}
    assert all(subject.split(".")[0] in roots for subject in PAYLOADS)
    assert not s.RPC_APP_LOGS.startswith(tuple(roots)), "request/reply must stay outside the streams"


def test_events_doc_is_generated_from_the_models():
    assert (REPO / "docs/events.md").read_text() == render(), "run `make docs` to regenerate docs/events.md"


def test_minimal_direct_publish_gets_defaults_and_a_stable_id():
    raw = json.dumps({"data": EXAMPLES[s.APP_CREATED]}).encode()
    first, _ = parse_event(raw, s.APP_CREATED, fallback_id="seq-9")
    again, _ = parse_event(raw, s.APP_CREATED, fallback_id="seq-9")
    assert first.id == again.id == "seq-9"
    assert first.type == s.APP_CREATED and first.source == "client"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (envelope("app.updated", {"app_id": "x"}), "does not match the subject"),
        (
            envelope("app.created", {"spec": {"name": "shop", "services": [{"name": "web"}]}}),
            "data.spec.services.0.image",
        ),
        (envelope("app.created", {"spec": {"name": "Bad Name!", "services": []}}), "data.spec.name"),
        (envelope("app.created", {"spec": EXAMPLES[s.APP_CREATED]["spec"], "extra": 1}), "data.extra"),
        (envelope("app.created", EXAMPLES[s.APP_CREATED], unknown="x"), "unknown"),
        (envelope("app.created", {"spec": {"name": "shop", "replicas": "many", "services": []}}), "data.spec.replicas"),
    ],
)
def test_invalid_messages_name_what_is_wrong(raw, fragment):
    with pytest.raises(InvalidEvent) as error:
        parse_event(raw, s.APP_CREATED)
    assert fragment in str(error.value)


def test_unknown_subject_and_oversized_messages_are_refused():
    with pytest.raises(InvalidEvent, match="no event type"):
        parse_event(b"{}", "app.exploded")
    with pytest.raises(InvalidEvent, match="bytes"):
        parse_event(b" " * (MAX_EVENT_BYTES + 1), s.APP_CREATED)


def test_new_event_takes_the_app_id_as_cloudevents_subject():
    payload = AppCreated.model_validate({**EXAMPLES[s.APP_CREATED], "app_id": "shop-3"})
    event = new_event(s.APP_CREATED, payload, source="crane/api")
    assert event.subject == "shop-3" and event.data["spec"]["name"] == "shop"
    assert parse_event(event.model_dump_json().encode(), s.APP_CREATED)[0] == event
