"""One user's app is nobody else's: every app operation another (non-admin) user tries on it
answers 404, as for an app that does not exist, and changes nothing; their lists never show it."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.conftest import app_body, make_user
from tests.integration.helpers import running, wait_app, webhook

# (method, path under /apps/{id}, body): every operation on one app.
OPERATIONS = [
    ("GET", "", None),
    ("PATCH", "", {"replicas": 3}),
    ("DELETE", "", None),
    ("POST", "/start", None),
    ("POST", "/stop", None),
    ("POST", "/restart", None),
    ("POST", "/scale", {"replicas": 3}),
    ("POST", "/clone", {"name": "stolen"}),
    ("POST", "/logs", {}),
    ("GET", "/logs?follow=true", None),
    ("GET", "/metrics", None),
    ("POST", "/stats", None),
    ("GET", "/scan", None),
    ("GET", "/builds", None),
    ("GET", "/compose", None),
    ("GET", "/decisions", None),
]


@pytest.fixture(scope="module")
def owned(suite, http_image):
    owner = make_user(suite, "tenant")
    app = owner.post("/apps", json=app_body(http_image, "tenant-app")).json()
    wait_app(owner, app["id"], running(1))
    yield owner, app
    owner.delete(f"/apps/{app['id']}")


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=[f"{m} {p or '/'}" for m, p, _ in OPERATIONS])
def test_another_user_cannot_touch_an_app(suite, owned, method, path, body):
    owner, app = owned
    stranger = make_user(suite, "stranger")
    answer = stranger.request(method, f"/apps/{app['id']}{path}", json=body)
    assert answer.status_code == 404, (answer.status_code, answer.text[:300])
    assert app["id"] not in answer.text or "no app" in answer.text
    after = owner.get(f"/apps/{app['id']}").json()
    assert after["status"] == "running" and after["desired_replicas"] == 1, after  # nothing changed


def test_lists_show_only_ones_own(suite, owned):
    owner, app = owned
    stranger = make_user(suite, "lister")
    assert app["id"] not in {a["id"] for a in stranger.get("/apps").json()}
    # An alert about the app (one no policy acts on), as Alertmanager would send it: the owner
    # sees it, the stranger does not.
    token = (suite.monitoring_dir / "webhook-token").read_text()
    fingerprint = f"tenancy{uuid.uuid4().hex[:8]}"
    bridge = f"http://127.0.0.1:{suite.bridge_port}/alerts"
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(bridge, json=webhook(app["id"], "CraneTenancyProbe", fingerprint), headers=headers).is_success
    deadline = time.monotonic() + 10
    while not any(a.get("app_id") == app["id"] for a in owner.get("/alerts").json()):
        assert time.monotonic() < deadline, owner.get("/alerts").json()
        time.sleep(0.2)
    assert all(a.get("app_id") != app["id"] for a in stranger.get("/alerts").json())
    resolved = webhook(app["id"], "CraneTenancyProbe", fingerprint, status="resolved")
    httpx.post(bridge, json=resolved, headers=headers)
    assert stranger.post(f"/apps/{app['id']}/clone", json={"name": "copy"}).status_code == 404
    assert not [a for a in stranger.get("/apps").json() if a["spec"]["name"] in ("copy", "stolen")]
