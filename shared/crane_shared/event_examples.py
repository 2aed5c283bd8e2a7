"""One example payload per subject: shown in docs/events.md and validated by the unit tests,
so the documentation can never drift from the models."""

from __future__ import annotations

from typing import Any

from . import subjects as s

_SPEC = {
    "name": "shop",
    "replicas": 3,
    "services": [{"name": "web", "image": "nginx:1.27-alpine", "ports": ["80"], "environment": {"MODE": "demo"}}],
}

EXAMPLES: dict[str, dict[str, Any]] = {
    s.APP_CREATED: {"owner": "u-5f0c8a3e9b2d4c7e8f1a6b3d2c9e0f14", "owner_email": "ada@example.com", "spec": _SPEC},
    s.APP_UPDATED: {"app_id": "shop-7", "replicas": 5},
    s.APP_DELETED: {"app_id": "shop-7"},
    s.APP_RESTART_REQUESTED: {"app_id": "shop-7"},
    s.APP_KILL_REQUESTED: {"app_id": "shop-7", "service": "web", "replica": 1},
    s.MONITORING_UPDATED: {"app_id": "shop-7", "rules": ["CraneHighLoad", "CraneLowLoad"], "reloaded": True},
    s.POLICY_ADMISSION: {
        "app_id": "shop-7",
        "allowed": False,
        "reasons": ["services.web.replicas: 9 is over your quota 8"],
    },
    s.LAB_LOAD_STARTED: {"app_id": "shop-7", "run_id": "load-3f2a", "rate": 20, "seconds": 60, "path": "/"},
    s.LAB_LOAD_FINISHED: {
        "app_id": "shop-7",
        "run_id": "load-3f2a",
        "sent": 1200,
        "ok": 1198,
        "failed": 2,
        "p95_ms": 12.5,
        "stopped": False,
    },
    s.APP_DEPLOYED: {"app_id": "shop-7", "replicas": 3, "url": "http://shop-7.localhost/"},
    s.APP_SCALED: {"app_id": "shop-7", "previous_replicas": 3, "replicas": 5},
    s.APP_STOPPED: {"app_id": "shop-7"},
    s.APP_FAILED: {"app_id": "shop-7", "reason": "image nginx:nope not found locally and could not be pulled"},
    s.APP_REMOVED: {"app_id": "shop-7"},
    s.CONTAINER_CREATED: {"app_id": "shop-7", "service": "web", "container": "crane-shop-7-web-1", "replica": 1},
    s.CONTAINER_DIED: {"app_id": "shop-7", "service": "web", "container": "crane-shop-7-web-1", "exit_code": 137},
    s.ALERT_FIRING: {
        "app_id": "shop-7",
        "alertname": "HighRequestRate",
        "fingerprint": "a1b2c3d4e5f60718",
        "starts_at": "2026-11-01T12:00:00Z",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "shop-7 serves 120 req/s per replica"},
    },
    s.ALERT_RESOLVED: {"app_id": "shop-7", "alertname": "HighRequestRate", "fingerprint": "a1b2c3d4e5f60718"},
    s.POLICY_DECISION: {
        "app_id": "shop-7",
        "alert": "CraneHighLoad",
        "action": "scale_up",
        "reason": "rps 61.2 per replica is above target 20 (+10%): ceil(2 x 61.2 / 20) = 7",
        "metric": "rps",
        "value": 61.2,
        "target": 20.0,
        "current_replicas": 2,
        "desired_replicas": 7,
        "policy": "autoscale",
        "engine": "regopy",
        "outcome": "applied",
    },
    s.BUILD_STARTED: {
        "app_id": "shop-7",
        "service": "web",
        "build_id": "b-3f2a",
        "context": "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
        "image": "crane-build/shop-7-web:5d41402abc4b2a76",
    },
    s.BUILD_PROGRESS: {
        "app_id": "shop-7",
        "service": "web",
        "build_id": "b-3f2a",
        "lines": ["Step 1/3 : FROM python:3.12"],
    },
    s.BUILD_COMPLETED: {
        "app_id": "shop-7",
        "service": "web",
        "build_id": "b-3f2a",
        "image": "crane-build/shop-7-web:5d41402abc4b2a76",
        "cached": False,
        "seconds": 4.2,
    },
    s.BUILD_FAILED: {
        "app_id": "shop-7",
        "service": "web",
        "build_id": "b-3f2a",
        "error": "The command '/bin/sh -c pip install -r requirements.txt' returned a non-zero code: 1",
    },
    s.SCAN_COMPLETED: {
        "app_id": "shop-7",
        "image": "nginx:1.27-alpine",
        "digest": "sha256:45e9f5aac1cd33ae3062cdf13e9589589de23afecd1b3ac31541bd4af528bd7d",
        "scanner": "trivy 0.59.1",
        "vulnerability_db": "vulnerability database unavailable",
        "scanned": True,
        "cached": False,
        "counts": {"vulnerability": {}, "secret": {"CRITICAL": 1}, "misconfiguration": {"HIGH": 1}},
        "findings": [
            {
                "kind": "secret",
                "id": "aws-access-key-id",
                "severity": "CRITICAL",
                "title": "AWS Access Key ID",
                "target": "/app/config.env:1",
            },
            {
                "kind": "misconfiguration",
                "id": "DS002",
                "severity": "HIGH",
                "title": "Image user should not be 'root'",
                "target": "nginx:1.27-alpine",
            },
        ],
        "allowed": False,
        "reasons": ["nginx:1.27-alpine: 1 secret found in the image (AWS Access Key ID)"],
    },
    s.EVENT_REJECTED: {
        "original_subject": "app.created",
        "consumer": "deployer",
        "reason": "data.spec.services.0.image: Field required",
        "deadletter_subject": "deadletter.app.created",
    },
}
# What a client publishing straight to NATS sends: the same intents; the owner is taken from the
# API token in the Crane-Token header, so app.created needs no owner.
EXAMPLES.update({s.client_subject(intent): dict(EXAMPLES[intent]) for intent in s.INTENTS})
EXAMPLES[s.client_subject(s.APP_CREATED)].pop("owner")
EXAMPLES[s.client_subject(s.APP_CREATED)].pop("owner_email")
