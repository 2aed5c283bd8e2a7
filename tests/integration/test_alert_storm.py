"""An alert storm: 1,000 webhook calls in a few seconds (on loopback, bounded) give exactly one
event per alert state, exactly one action, and no service dies."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import app_body
from tests.integration.helpers import alerts_handled, running, settled_restarts, wait_app, wait_gone, webhook


def test_alert_storm_acts_once_per_alert_and_nothing_dies(suite, user, http_image):
    app_id = user.post("/apps?wait=true", json=app_body(http_image, "stormy")).json()["id"]
    token = (suite.monitoring_dir / "webhook-token").read_text()
    run = uuid.uuid4().hex[:8]
    bodies = [webhook(app_id, "CraneReplicasDown", f"down{run}")] * 100
    for n in range(90):  # informational alerts of apps that do not exist: no action, 10 repeats each
        bodies += [webhook(f"ghost{n}-1", "CraneHighErrorRate", f"err{run}{n}")] * 10
    url = f"http://127.0.0.1:{suite.bridge_port}/alerts"

    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=20))

    def send(body: dict) -> dict:
        return client.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).json()

    handled = alerts_handled(suite)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, bodies))
    client.close()
    elapsed = time.monotonic() - started
    print(f"1000 webhook calls in {elapsed:.1f}s")
    assert len(answers) == 1000
    assert sum(a["published"] for a in answers) == 91  # one event per alert
    assert sum(a["duplicates"] for a in answers) == 909

    restarts = settled_restarts(suite, user, app_id, handled + 91)
    assert len(restarts) == 1, restarts
    dead = suite.stopped_processes()
    assert dead == [], f"services died: {dead}"
    wait_app(user, app_id, running(1))
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)
