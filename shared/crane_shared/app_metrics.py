"""The PromQL that measures each app, shared by monitor-config (alert rules) and the policy
(re-evaluating firing alerts), so both always look at the same number.

Request metrics come from Traefik (the app's router service), container metrics from the
deployer's exporter (crane_container_*), replica counts from crane_app_replicas.
"""

from __future__ import annotations

from .appspec import AppSpec
from .routing import traefik_service
from .servicespec import ServiceSpec

# Must span several scrape intervals (CRANE scrapes every 0.5 s; use 2m with 1m scrapes).
RATE_WINDOW = "4s"


def _routed(suite: str, app_id: str, spec: AppSpec) -> str | None:
    routed = spec.routed_service
    return traefik_service(suite, app_id, routed.name) if routed else None


def ready_replicas_query(app_id: str, service: str) -> str:
    return f'max(crane_service_replicas{{app="{app_id}",service="{service}",kind="ready"}})'


def desired_replicas_query(app_id: str, service: str) -> str:
    return f'max(crane_service_replicas{{app="{app_id}",service="{service}",kind="desired"}})'


def metric_query(
    suite: str, app_id: str, service: ServiceSpec, metric: str | None = None, window: str = RATE_WINDOW
) -> str:
    """PromQL for a service's scaling metric, per replica where that makes sense."""
    metric = metric or service.autoscaling.metric
    router = traefik_service(suite, app_id, service.name) if service.routed_port else None
    # At least 1, and 1 while the exporter has not been scraped for this app yet.
    replicas = f"(clamp_min({ready_replicas_query(app_id, service.name)}, 1) or on() vector(1))"
    if metric == "rps":
        if router is None:
            return "vector(0)"
        rate = f'sum(rate(traefik_service_requests_total{{service="{router}"}}[{window}]))'
        return f"({rate} or on() vector(0)) / on() {replicas}"
    if metric == "latency_p95":
        if router is None:
            return "vector(0)"
        buckets = f'traefik_service_request_duration_seconds_bucket{{service="{router}"}}'
        return f"histogram_quantile(0.95, sum by (le) (rate({buckets}[{window}])))"
    if metric == "cpu":
        return f'avg(crane_container_cpu_percent{{app="{app_id}",service="{service.name}"}})'
    if metric == "memory":
        return f'avg(crane_container_memory_percent{{app="{app_id}",service="{service.name}"}})'
    raise ValueError(f"unknown metric {metric!r}")


def error_rate_query(suite: str, app_id: str, spec: AppSpec, window: str = RATE_WINDOW) -> str | None:
    service = _routed(suite, app_id, spec)
    if service is None:
        return None
    total = f'sum(rate(traefik_service_requests_total{{service="{service}"}}[{window}]))'
    errors = f'sum(rate(traefik_service_requests_total{{service="{service}",code=~"5.."}}[{window}]))'
    return f"({errors} or on() vector(0)) / on() clamp_min({total}, 0.001)"


def request_metrics(suite: str, app_id: str, spec: AppSpec, window: str = RATE_WINDOW) -> dict[str, str]:
    """Recording-rule name -> PromQL for the app's requests/s, p95 latency and error ratio
    (those of its routed service)."""
    service = _routed(suite, app_id, spec)
    if service is None:
        return {}
    requests = f'traefik_service_requests_total{{service="{service}"}}'
    buckets = f'traefik_service_request_duration_seconds_bucket{{service="{service}"}}'
    return {
        "crane:app_requests_per_second": f"sum(rate({requests}[{window}])) or on() vector(0)",
        "crane:app_latency_p95_seconds": f"histogram_quantile(0.95, sum by (le) (rate({buckets}[{window}])))",
        "crane:app_error_ratio": error_rate_query(suite, app_id, spec, window) or "vector(0)",
    }
