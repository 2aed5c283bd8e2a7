"""Live streams against a real suite: an app's logs followed across replicas (from the deployer,
over the bus) and the events a user may watch, as Server-Sent Events."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from crane_cli.api import read_sse
from tests.conftest import make_user
from tests.integration.helpers import running, wait_app

# Writes a numbered line every 0.3 s, so a follower sees lines written after it began.
TICKER = ["/bin/busybox", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"]


def ticker_body(image: str, name: str, replicas: int = 1) -> dict:
    return {"name": name, "replicas": replicas, "services": [{"name": "tick", "image": image, "entrypoint": TICKER}]}


@dataclass
class SseReader:
    """Reads one Server-Sent Events response in a thread: (id, event, data) into a queue."""

    client: httpx.Client
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    messages: queue.Queue = field(default_factory=queue.Queue)
    status: int | None = None

    def __post_init__(self) -> None:
        self._response: httpx.Response | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._ready.wait(30), f"no answer from {self.url}"

    def _read(self) -> None:
        with self.client.stream("GET", self.url, headers=self.headers, timeout=httpx.Timeout(30, read=None)) as resp:
            self._response = resp
            self.status = resp.status_code
            self._ready.set()
            if resp.status_code != 200:
                resp.read()
                return
            try:
                for message in read_sse(resp.iter_lines()):  # the crane CLI's reader
                    self.messages.put((message.id, message.event, message.data))
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.StreamClosed):
                pass
            self.messages.put(None)

    def until(self, predicate, timeout: float = 60) -> list[tuple]:
        """Messages read until one satisfies ``predicate`` (all of them, that one last)."""
        seen: list[tuple] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = self.messages.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                raise AssertionError(f"the stream ended; read: {seen[-10:]}")
            seen.append(item)
            if predicate(item):
                return seen
        raise AssertionError(f"nothing matched within {timeout}s; read: {seen[-10:]}")

    def all_until_end(self, timeout: float = 60) -> list[tuple]:
        seen: list[tuple] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.messages.get(timeout=max(0.1, deadline - time.monotonic()))
            if item is None:
                return seen
            seen.append(item)
        raise AssertionError("the stream did not end")

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._thread.join(10)


def _line(item: tuple) -> dict:
    return json.loads(item[2]) if item[1] == "line" else {}


def _deployer_follows(suite) -> float:
    text = httpx.get(f"http://127.0.0.1:{suite.metrics_ports['deployer']}/metrics", timeout=5).text
    found = re.search(r"^crane_log_follows (\S+)$", text, re.M)
    assert found, "the deployer does not export crane_log_follows"
    return float(found.group(1))


@pytest.fixture
def ticker(user, http_image):
    app = user.post("/apps", json=ticker_body(http_image, "ticker")).json()
    wait_app(user, app["id"], running(1))
    yield app
    user.delete(f"/apps/{app['id']}")


def test_a_follower_sees_lines_of_replicas_started_after_it_and_stops_when_the_client_goes(suite, user, ticker):
    app_id = ticker["id"]
    reader = SseReader(user, f"/apps/{app_id}/logs?follow=true&tail=0")
    assert reader.status == 200
    first = _line(reader.until(lambda m: _line(m).get("line", "").startswith("tick"))[-1])
    assert _deployer_follows(suite) >= 1
    user.post(f"/apps/{app_id}/scale", json={"replicas": 2})
    # The second replica did not exist when the follow began; its lines come on the same stream.
    later = reader.until(lambda m: _line(m).get("replica") not in (None, first["replica"]), timeout=60)
    newcomer = _line(later[-1])
    assert newcomer["service"] == "tick" and newcomer["line"].startswith("tick")
    assert newcomer["time"] and first["time"]
    reader.close()
    deadline = time.monotonic() + 15
    while _deployer_follows(suite) > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _deployer_follows(suite) == 0, "the deployer still follows logs nobody reads"


def test_logs_without_follow_send_each_replicas_tail_and_end(user, ticker):
    time.sleep(1.5)  # a few ticks
    reader = SseReader(user, f"/apps/{ticker['id']}/logs?tail=3")
    messages = reader.all_until_end(timeout=30)
    lines = [_line(m) for m in messages if m[1] == "line"]
    assert 1 <= len(lines) <= 3 and all(line["line"].startswith("tick") for line in lines)
    assert messages[-1][1] == "end"
    text = user.get(f"/apps/{ticker['id']}/logs", params={"tail": 2, "format": "text"})
    assert text.status_code == 200 and re.fullmatch(r"(\S+ \| tick \d+\n){1,2}", text.text), text.text
    assert user.get(f"/apps/{ticker['id']}/logs", params={"service": "nope"}).status_code == 404
    for bad in ({"tail": -1}, {"tail": 5001}, {"format": "html"}, {"follow": "maybe"}):
        refused = user.get(f"/apps/{ticker['id']}/logs", params=bad)
        assert refused.status_code == 422 and next(iter(bad)) in refused.text, (bad, refused.text)
    for bad in ({"after": -1}, {"since": 10**9}, {"follow": "x"}):
        assert user.get("/events", params=bad).status_code == 422, bad


def test_events_resume_after_last_event_id_without_a_gap_or_a_repeat(user, http_image):
    app = user.post("/apps", json=ticker_body(http_image, "resume")).json()
    try:
        wait_app(user, app["id"], running(1))
        past = SseReader(user, f"/events?app={app['id']}&follow=false&since=600").all_until_end()
        ids = [int(m[0]) for m in past]
        # The policy's verdict comes first: the API accepts a request once it is admitted.
        assert [m[1] for m in past][:2] == ["policy.admission", "app.created"] and "app.deployed" in [
            m[1] for m in past
        ]
        assert ids == sorted(set(ids)) and len(ids) >= 2
        # Resume after the first: exactly the rest, then live ones as they happen.
        live = SseReader(user, f"/events?app={app['id']}", headers={"Last-Event-ID": str(ids[0])})
        replayed = live.until(lambda m: int(m[0]) == ids[-1], timeout=30)
        assert [int(m[0]) for m in replayed] == ids[1:]
        user.post(f"/apps/{app['id']}/scale", json={"replicas": 2})
        after = live.until(lambda m: m[1] == "app.scaled", timeout=60)
        assert all(int(m[0]) > ids[-1] for m in after)
        assert all(json.loads(m[2])["subject"] == app["id"] for m in replayed + after)
        live.close()
    finally:
        user.delete(f"/apps/{app['id']}")


def test_another_users_events_and_logs_never_reach_a_watcher(suite, user, http_image):
    other = make_user(suite, "watcher")
    try:
        watching = SseReader(other, "/events")
        app = user.post("/apps", json=ticker_body(http_image, "private")).json()
        mine = other.post("/apps", json=ticker_body(http_image, "mine")).json()
        wait_app(user, app["id"], running(1))
        seen = watching.until(lambda m: m[1] == "app.deployed" and json.loads(m[2])["subject"] == mine["id"])
        assert {json.loads(m[2])["subject"] for m in seen} == {mine["id"]}
        assert other.get(f"/events?app={app['id']}").status_code == 404
        assert other.get(f"/apps/{app['id']}/logs?follow=true").status_code == 404
        assert other.get("/events", headers={"Last-Event-ID": "1; drop"}).status_code == 422
        watching.close()
        other.delete(f"/apps/{mine['id']}")
        user.delete(f"/apps/{app['id']}")
    finally:
        other.close()
