"""Pure rendering of monitoring configuration: nothing here reads or writes anything.

Per app: a file_sd target (the deployer's exporter, narrowed to the app by its metrics path)
and alert rules built from the app's autoscaling settings. Per suite: prometheus.yml and
alertmanager.yml with CRANE's fast timings (or any others, for comparison)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crane_shared.alert_names import (
    APP_LABEL,
    HIGH_ERROR_RATE,
    HIGH_LOAD,
    LOW_LOAD,
    METRIC_LABEL,
    REPLICAS_DOWN,
    SERVICE_LABEL,
    SUITE_LABEL,
)
from crane_shared.app_metrics import (
    RATE_WINDOW,
    desired_replicas_query,
    error_rate_query,
    metric_query,
    request_metrics,
)
from crane_shared.appspec import AppRecord
from crane_shared.servicespec import ServiceSpec


@dataclass(frozen=True)
class Timings:
    scrape_interval: str = "500ms"
    evaluation_interval: str = "500ms"
    group_wait: str = "0s"
    group_interval: str = "1s"
    repeat_interval: str = "10s"
    fixed_interval: str = "10s"  # apps that do not autoscale: scrape and rules (cadence())


# An app's cadence: autoscaled apps are measured every scrape_interval (decisions within
# seconds), the others every fixed_interval (charts and the replicas-down alert only).
AUTOSCALED, FIXED = "autoscaled", "fixed"
CADENCES = (AUTOSCALED, FIXED)


def cadence(record: AppRecord) -> str:
    return AUTOSCALED if record.spec.autoscaled_services else FIXED


def _number(value: float) -> str:
    return f"{value:.6g}"


def render_targets(app_id: str, exporter_target: str) -> list[dict[str, Any]]:
    """file_sd entries: the app's container and replica metrics, served by the deployer."""
    return [
        {
            "targets": [exporter_target],
            "labels": {APP_LABEL: app_id, "__metrics_path__": f"/metrics/apps/{app_id}"},
        }
    ]


def _load_rules(
    suite: str, app_id: str, service: ServiceSpec, labels: dict[str, str], rate_window: str
) -> list[dict[str, Any]]:
    """Load above / below the target band of one autoscaled service."""
    scaling = service.autoscaling
    value = metric_query(suite, app_id, service, window=rate_window)
    target = scaling.target_value
    high, low = target * (1 + scaling.tolerance), target * (1 - scaling.tolerance)
    metric_labels = {**labels, SERVICE_LABEL: service.name, METRIC_LABEL: scaling.metric}
    band = f"{app_id}/{service.name}: {scaling.metric} per replica {{}} {_number(target)} ({{}}{scaling.tolerance:.0%})"
    desired = desired_replicas_query(app_id, service.name)
    return [
        {
            "alert": HIGH_LOAD,
            "expr": f"({value}) > {_number(high)}",
            "labels": metric_labels,
            "annotations": {"summary": band.format("above", "+"), "value": "{{ $value }}"},
        },
        {
            "alert": LOW_LOAD,
            "expr": f"({value}) < {_number(low)} and on() {desired} > {service.min_scale}",
            "labels": metric_labels,
            "annotations": {"summary": band.format("below", "-"), "value": "{{ $value }}"},
        },
    ]


def alert_names(rules: dict[str, Any]) -> list[str]:
    """The alerts a rules document (render_rules) defines, in order."""
    return [rule["alert"] for group in rules.get("groups", []) for rule in group.get("rules", []) if "alert" in rule]


def render_rules(
    suite: str, record: AppRecord, rate_window: str = RATE_WINDOW, fixed_interval: str | None = None
) -> dict[str, Any]:
    """Alert rules of one app: load above/below its target band, replicas down, errors;
    evaluated every ``fixed_interval`` when the app does not autoscale."""
    app_id, spec = record.id, record.spec
    labels = {APP_LABEL: app_id, SUITE_LABEL: suite}
    desired = f'max(crane_app_replicas{{app="{app_id}",kind="desired"}})'
    ready = f'max(crane_app_replicas{{app="{app_id}",kind="ready"}})'
    # The app's request rate, p95 latency and error ratio as named series, from Traefik's metrics.
    rules: list[dict[str, Any]] = [
        {"record": name, "expr": query, "labels": labels}
        for name, query in request_metrics(suite, app_id, spec, rate_window).items()
    ]
    for service in spec.autoscaled_services:
        rules += _load_rules(suite, app_id, service, labels, rate_window)
    rules.append(
        {
            "alert": REPLICAS_DOWN,
            "expr": f"{desired} - {ready} > 0",
            "for": "10s",
            "labels": labels,
            "annotations": {"summary": f"{app_id}: replicas down or failing their health check"},
        }
    )
    errors = error_rate_query(suite, app_id, spec, window=rate_window)
    if errors:
        rules.append(
            {
                "alert": HIGH_ERROR_RATE,
                "expr": f"({errors}) > 0.05",
                "for": "30s",
                "labels": labels,
                "annotations": {"summary": f"{app_id}: more than 5% of requests fail", "value": "{{ $value }}"},
            }
        )
    group: dict[str, Any] = {"name": f"crane-app-{app_id}", "rules": rules}
    if fixed_interval and cadence(record) == FIXED:
        group["interval"] = fixed_interval
    return {"groups": [group]}


def render_prometheus_config(
    monitoring_dir: str,
    timings: Timings,
    alertmanager_target: str,
    traefik_target: str,
    service_targets: list[str],
) -> dict[str, Any]:
    scrape_configs: list[dict[str, Any]] = [
        {"job_name": "traefik", "static_configs": [{"targets": [traefik_target]}]},
        {
            "job_name": "crane-apps",
            "file_sd_configs": [{"files": [f"{monitoring_dir}/targets/{AUTOSCALED}/*.json"], "refresh_interval": "5s"}],
        },
        {
            "job_name": "crane-apps-fixed",
            "scrape_interval": timings.fixed_interval,
            "file_sd_configs": [{"files": [f"{monitoring_dir}/targets/{FIXED}/*.json"], "refresh_interval": "5s"}],
        },
    ]
    if service_targets:
        scrape_configs.append({"job_name": "crane", "static_configs": [{"targets": service_targets}]})
    return {
        "global": {"scrape_interval": timings.scrape_interval, "evaluation_interval": timings.evaluation_interval},
        "rule_files": [f"{monitoring_dir}/rules/*.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_target]}]}]},
        "scrape_configs": scrape_configs,
    }


def render_alertmanager_config(webhook_url: str, token_file: str, timings: Timings) -> dict[str, Any]:
    """Every CRANE alert goes to the alert-bridge, authenticated with the suite's bearer token."""
    return {
        "route": {
            "receiver": "crane-alert-bridge",
            "group_by": [APP_LABEL, SERVICE_LABEL, "alertname"],
            "group_wait": timings.group_wait,
            "group_interval": timings.group_interval,
            "repeat_interval": timings.repeat_interval,
        },
        "receivers": [
            {
                "name": "crane-alert-bridge",
                "webhook_configs": [
                    {
                        "url": webhook_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials_file": token_file}},
                    }
                ],
            }
        ],
    }
