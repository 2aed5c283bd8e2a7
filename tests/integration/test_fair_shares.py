"""Fair shares on a running suite: one user's open event streams, lab loads and networks stop
at their share, and another user is not held up by them."""

from __future__ import annotations

import threading

import httpx

from tests.conftest import app_body, make_user
from tests.integration.helpers import remove_every_app


def _open_stream(client, url: str, opened: list, stop: threading.Event) -> None:
    with (
        httpx.Client(headers=dict(client.headers), timeout=30) as http,
        http.stream("GET", url, params={"follow": "true"}) as response,
    ):
        opened.append(response.status_code)
        stop.wait(30)


def test_one_users_event_streams_stop_at_their_share(suite, user):
    other = make_user(suite, "other")
    url = f"{suite.api_url}/api/v1/events"
    opened: list[int] = []
    stop = threading.Event()
    share = 6  # CRANE_EVENT_STREAMS_PER_USER's default
    threads = [threading.Thread(target=_open_stream, args=(user, url, opened, stop)) for _ in range(share)]
    try:
        for thread in threads:
            thread.start()
        while len(opened) < share:
            threads[0].join(0.05)
        assert opened == [200] * share
        one_more = httpx.get(url, params={"follow": "false"}, headers=dict(user.headers), timeout=30)
        assert one_more.status_code == 429 and one_more.headers["Retry-After"], one_more.text
        assert f"{share} events streams" in one_more.json()["detail"]
        theirs = httpx.get(url, params={"follow": "false"}, headers=dict(other.headers), timeout=30)
        assert theirs.status_code == 200  # another user is not held up
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        other.close()
    # Closed, the shares are back.
    again = httpx.get(url, params={"follow": "false"}, headers=dict(user.headers), timeout=30)
    assert again.status_code == 200, again.text


def test_one_owners_loads_and_networks_stop_at_their_share(suite, admin, user, http_image):
    other = make_user(suite, "other")
    apps = []
    try:
        for name in ("one", "two", "three"):
            created = user.post("/apps?wait=true", json=app_body(http_image, name))
            assert created.status_code == 200, created.text
            apps.append(created.json()["id"])
        theirs = other.post("/apps?wait=true", json=app_body(http_image, "theirs")).json()["id"]
        plan = {"rate": 1, "seconds": 30}
        assert user.post(f"/apps/{apps[0]}/lab/load", json=plan).status_code == 202
        assert user.post(f"/apps/{apps[1]}/lab/load", json=plan).status_code == 202
        third = user.post(f"/apps/{apps[2]}/lab/load", json=plan)
        assert third.status_code == 409 and "your apps" in third.json()["detail"], third.text
        assert other.post(f"/apps/{theirs}/lab/load", json=plan).status_code == 202
        for app_id in (apps[0], apps[1], theirs):
            (other if app_id == theirs else user).delete(f"/apps/{app_id}/lab/load")

        # Networks are counted like replicas: each takes a subnet of the pool.
        quota = {"replicas": 20, "cpus": 8, "memory_mb": 8192, "networks": 4}
        assert admin.patch(f"/users/{user.email}", json={"quota": quota}).status_code == 200
        nets = {"name": "nets", "services": [{"name": "w", "image": http_image, "networks": ["a", "b"]}]}
        nets["networks"] = {"a": {}, "b": {}}
        refused = user.post("/apps", json=nets)  # 3 apps with one network each + 2 = 5 > 4
        assert refused.status_code == 403, refused.text
        assert any(r.startswith("quota.networks:") for r in refused.json()["detail"]["reasons"]), refused.text
        assert other.post("/apps", json={**nets, "name": "othernets"}).status_code == 202
    finally:
        remove_every_app(user, other)
        other.close()
