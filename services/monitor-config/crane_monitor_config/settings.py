"""monitor-config settings (CRANE_* environment variables)."""

from pathlib import Path

from crane_shared.settings import CommonSettings


class MonitorSettings(CommonSettings):
    # Shared with Prometheus and Alertmanager (a volume in the compose demo).
    monitoring_dir: Path = Path("/etc/crane/monitoring")
    prometheus_url: str = "http://127.0.0.1:9090"
    alertmanager_url: str = "http://127.0.0.1:9093"
    # host:port Prometheus scrapes, as seen from Prometheus.
    alertmanager_target: str = "127.0.0.1:9093"
    traefik_metrics_target: str = "127.0.0.1:8080"
    exporter_target: str = "127.0.0.1:9101"
    service_metrics_targets: str = ""  # comma separated: CRANE's own services
    alert_bridge_url: str = "http://127.0.0.1:9095/alerts"
    # CRANE reacts in seconds; the original CRANE shipped Prometheus' and Alertmanager's
    # defaults (1m, 1m, 30s, 5m), which the benchmark runs side by side.
    scrape_interval: str = "500ms"
    evaluation_interval: str = "500ms"
    group_wait: str = "0s"
    group_interval: str = "1s"
    repeat_interval: str = "10s"
    # Apps that do not autoscale are scraped and their rules evaluated this often: nothing
    # acts on their numbers within seconds, so an idle one costs Prometheus 20 times less.
    fixed_interval: str = "10s"
