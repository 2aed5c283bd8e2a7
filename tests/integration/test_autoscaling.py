"""The monitoring and autoscaling pipeline with the real parts: Traefik's metrics and the
deployer's exporter scraped by Prometheus, rules rendered by monitor-config, Alertmanager's
webhook into the alert-bridge, Rego decisions by the policy service, acted on by the deployer."""

from __future__ import annotations

import subprocess
import time
import uuid

import httpx

from tests.conftest import app_body
from tests.integration.helpers import (
    alerts_handled,
    app_containers,
    past_events,
    running,
    settled_restarts,
    wait_app,
    wait_gone,
    webhook,
)
from tests.samples import SCALING_INPUT


def autoscaled_body(image: str, name: str, **autoscaling) -> dict:
    body = app_body(image, name, replicas=1, min_scale=1, max_scale=3)
    body["autoscaling"] = {
        "metric": "rps",
        "target": 5,
        "scale_up_cooldown": 2,
        "scale_down_stabilization": 6,
        **autoscaling,
    }
    return body


def test_load_scales_out_then_in_never_past_the_bounds(suite, user, http_image):
    app = user.post("/apps?wait=true", json=autoscaled_body(http_image, "busy")).json()
    app_id = app["id"]
    assert app["status"] == "running"
    replicas_seen: list[int] = []
    load = subprocess.Popen(
        [
            "hey",
            "-z",
            "40s",
            "-q",
            "10",
            "-c",
            "3",
            "-host",
            f"{app_id}.localhost",
            f"http://127.0.0.1:{suite.http_port}/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    alerts_seen: set[str] = set()
    try:
        while time.monotonic() - started < 35:
            current = user.get(f"/apps/{app_id}").json()
            replicas_seen.append(current["desired_replicas"])
            alerts_seen |= {a["alertname"] for a in user.get("/alerts").json() if a["app_id"] == app_id}
            if current["desired_replicas"] == 3 and current["running_replicas"] == 3:
                break
            time.sleep(0.25)
        scaled_out_after = time.monotonic() - started
        assert replicas_seen[-1] == 3, f"did not scale out to max_scale in 35 s: {replicas_seen}"
        assert "CraneHighLoad" in alerts_seen, alerts_seen
    finally:
        load.kill()
        load.wait()
    stopped = time.monotonic()
    while time.monotonic() - stopped < 60:
        current = user.get(f"/apps/{app_id}").json()
        replicas_seen.append(current["desired_replicas"])
        if current["desired_replicas"] == 1:
            break
        time.sleep(0.5)
    scaled_in_after = time.monotonic() - stopped
    assert replicas_seen[-1] == 1, f"did not scale back to min_scale: {replicas_seen[-10:]}"
    assert max(replicas_seen) <= 3 and min(replicas_seen) >= 1, replicas_seen
    # Scale-in waits for the stabilization window (6 s): never sooner. How much longer it takes
    # (Prometheus' scrape and rule intervals, Alertmanager's grouping) is printed below, and
    # bounded only by the 60 s wait above.
    assert scaled_in_after >= 6, scaled_in_after
    decisions = user.get(f"/apps/{app_id}/decisions").json()
    actions = [d["action"] for d in decisions]
    assert "scale_up" in actions and "scale_down" in actions
    scale_up = next(d for d in decisions if d["action"] == "scale_up")
    assert scale_up["metric"] == "rps" and scale_up["value"] > 5.5 and scale_up["engine"] == "regopy"
    assert "ceil(" in scale_up["reason"]
    # The alert's chain runs through Alertmanager to the policy's decision and the new replica.
    events = past_events(user, app_id)
    decided = next(e for e in events if e["type"] == "policy.decision" and e["data"]["action"] == "scale_up")
    chain = decided["correlationid"]
    assert chain.startswith("alert-"), decided
    steps = [e["type"] for e in events if e.get("correlationid") == chain]
    assert steps[0] == "alert.firing" and "app.updated" in steps and "app.scaled" in steps, steps
    print(f"scaled out in {scaled_out_after:.1f}s, in after {scaled_in_after:.1f}s")
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_webhook_needs_the_token_validates_and_acts_once_on_repeats(suite, user, http_image):
    app_id = user.post("/apps?wait=true", json=app_body(http_image, "repeat")).json()["id"]
    bridge = f"http://127.0.0.1:{suite.bridge_port}/alerts"
    token = (suite.monitoring_dir / "webhook-token").read_text()
    body = webhook(app_id, "CraneReplicasDown", f"fp{uuid.uuid4().hex[:12]}")
    assert httpx.post(bridge, json=body).status_code == 401
    assert httpx.post(bridge, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.post(bridge, json={"version": "4"}, headers={"Authorization": f"Bearer {token}"}).status_code == 422
    handled = alerts_handled(suite)
    answers = [httpx.post(bridge, json=body, headers={"Authorization": f"Bearer {token}"}).json() for _ in range(10)]
    assert sum(a["published"] for a in answers) == 1 and sum(a["duplicates"] for a in answers) == 9
    restarts = settled_restarts(suite, user, app_id, handled + 1)
    assert len(restarts) == 1, restarts
    wait_app(user, app_id, running(1))
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_legacy_webhook_path_is_routed_to_the_bridge(suite, user):
    token = (suite.monitoring_dir / "webhook-token").read_text()
    url = f"{suite.api_url}/api/v1/monitoring/alert"
    body = webhook("nosuchapp-1", "CraneHighErrorRate", f"fp{uuid.uuid4().hex[:12]}")
    assert httpx.post(url, json=body).status_code == 401
    ok = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json()["published"] == 1
    bad = httpx.post(url, json={"alerts": "nope"}, headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 422


def test_unhealthy_replica_is_restarted_by_policy(suite, user, http_image, docker_client):
    body = app_body(http_image, "sick")
    body["services"][0]["healthcheck"] = {
        "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"],
        "interval": "1s",
        "timeout": "1s",
        "retries": 2,
    }
    app_id = user.post("/apps", json=body).json()["id"]
    wait_app(user, app_id, running(1), timeout=60)
    container = app_containers(docker_client, suite.suite, app_id)[0]
    container.exec_run(["rm", "/www/health"])  # the process lives on but stops answering its health check
    deadline = time.monotonic() + 60
    restarted = False
    while time.monotonic() < deadline and not restarted:
        live = app_containers(docker_client, suite.suite, app_id, all_states=False)
        restarted = bool(live) and container.id not in {c.id for c in live}
        time.sleep(0.5)
    assert restarted, "the unhealthy replica was not replaced"
    decisions = user.get(f"/apps/{app_id}/decisions").json()
    assert [d["alert"] for d in decisions if d["action"] == "restart"] == ["CraneReplicasDown"]
    wait_app(user, app_id, running(1), timeout=60)
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)


def test_policies_api_for_admins(suite, admin, user):
    assert user.get("/policies").status_code == 403
    assert "autoscale" in admin.get("/policies").json()
    source = admin.get("/policies/autoscale").json()["source"]
    assert "package crane.autoscale" in source
    refused = admin.put("/policies/broken", json={"source": "package crane.broken\nx := \n"})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "source"]
    assert "Invalid assignment" in refused.json()["detail"][0]["msg"]
    assert admin.get("/policies/broken").status_code == 404
    dry = admin.post(
        "/policies/dry-run",
        json={"input": SCALING_INPUT},
    )
    assert dry.status_code == 200 and dry.json()["decision"]["desired"] == 6
    extra = "package crane.extra\nlimit := 3\n"
    assert admin.put("/policies/extra", json={"source": extra}).status_code == 200
    assert admin.delete("/policies/extra").status_code == 204
    # An edited policy goes back to what CRANE ships; a policy CRANE does not ship has nothing to restore.
    assert admin.put("/policies/autoscale", json={"source": source + "\n# tuned for the lab\n"}).status_code == 200
    assert user.post("/policies/autoscale/restore").status_code == 403
    restored = admin.post("/policies/autoscale/restore")
    assert restored.status_code == 200 and restored.json()["source"] == source
    assert admin.get("/policies/autoscale").json()["source"] == source
    missing = admin.post("/policies/extra/restore")
    assert missing.status_code == 404 and "ships no policy named 'extra'" in missing.json()["detail"]


def test_exporter_serves_each_app_its_own_metrics(suite, user, http_image):
    app_id = user.post("/apps?wait=true", json=app_body(http_image, "measured", replicas=2)).json()["id"]
    url = f"http://127.0.0.1:{suite.metrics_ports['deployer']}/metrics/apps/{app_id}"
    deadline = time.monotonic() + 15
    text = ""
    while time.monotonic() < deadline and "crane_container_cpu_percent" not in text:
        text = httpx.get(url).text
        time.sleep(0.5)
    assert f'crane_app_replicas{{app="{app_id}",kind="ready"}} 2.0' in text
    assert "crane_container_memory_bytes" in text and "crane_container_cpu_percent" in text
    assert all(f'app="{app_id}"' in line for line in text.splitlines() if line and not line.startswith("#"))
    assert "crane_events_handled_total" in httpx.get(f"http://127.0.0.1:{suite.metrics_ports['deployer']}/metrics").text
    query = f'crane_app_replicas{{app="{app_id}",kind="ready"}}'
    deadline = time.monotonic() + 20
    result: list = []
    while time.monotonic() < deadline and not result:
        result = httpx.get(f"{suite.prometheus_url}/api/v1/query", params={"query": query}).json()["data"]["result"]
        time.sleep(0.5)
    assert result and result[0]["value"][1] == "2", "Prometheus did not scrape the app's file_sd target"
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)
