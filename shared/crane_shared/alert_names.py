"""The alerts CRANE's rules raise and the labels they carry (one home): monitor-config writes
the rules and routes them, the alert-bridge reads the labels, the policy acts on the names (its
Rego policy, autoscale.rego, names the restart alert too)."""

from __future__ import annotations

HIGH_LOAD = "CraneHighLoad"
LOW_LOAD = "CraneLowLoad"
REPLICAS_DOWN = "CraneReplicasDown"
HIGH_ERROR_RATE = "CraneHighErrorRate"
LOAD_ALERTS = frozenset({HIGH_LOAD, LOW_LOAD})  # the policy scales a service on these
RESTART_ALERTS = frozenset({REPLICAS_DOWN})  # and restarts an app on this one

APP_LABEL = "crane_app"
SERVICE_LABEL = "crane_service"
METRIC_LABEL = "crane_metric"
SUITE_LABEL = "crane_suite"
