"""Rendering of monitoring configuration from app settings (pure)."""

from crane_monitor_config.render import (
    Timings,
    alert_names,
    render_alertmanager_config,
    render_prometheus_config,
    render_rules,
    render_targets,
)
from crane_shared.alert_names import HIGH_LOAD, LOW_LOAD, REPLICAS_DOWN
from crane_shared.appspec import AppRecord, AppSpec


def record(**autoscaling):
    spec = AppSpec.model_validate(
        {
            "name": "shop",
            "replicas": 2,
            "min_scale": 2,
            "services": [{"name": "web", "image": "i", "ports": [80]}],
            "autoscaling": {"target": 10, "tolerance": 0.2, **autoscaling},
        }
    )
    return AppRecord(id="shop-3", owner="o", spec=spec)


def rules_by_name(document):
    return {rule.get("alert") or rule["record"]: rule for rule in document["groups"][0]["rules"]}


def test_load_rules_follow_the_target_band_and_the_traefik_service():
    rules = rules_by_name(render_rules("crane", record()))
    assert 'service="crane-shop-3-web@docker"' in rules[HIGH_LOAD]["expr"]
    assert rules[HIGH_LOAD]["expr"].endswith("> 12")  # 10 + 20%
    assert "< 8 and on()" in rules[LOW_LOAD]["expr"] and rules[LOW_LOAD]["expr"].endswith("> 2")  # min_scale
    assert rules[HIGH_LOAD]["labels"] == {
        "crane_app": "shop-3",
        "crane_suite": "crane",
        "crane_service": "web",
        "crane_metric": "rps",
    }
    assert 'crane_service_replicas{app="shop-3",service="web",kind="ready"}' in rules[HIGH_LOAD]["expr"]
    assert rules[REPLICAS_DOWN]["for"] == "10s"
    for name in ("crane:app_requests_per_second", "crane:app_latency_p95_seconds", "crane:app_error_ratio"):
        assert (
            'service="crane-shop-3-web@docker"' in rules[name]["expr"]
            and rules[name]["labels"]["crane_app"] == "shop-3"
        )


def test_other_metrics_and_disabled_autoscaling():
    cpu = rules_by_name(render_rules("crane", record(metric="cpu", target=50)))
    assert cpu[HIGH_LOAD]["expr"].startswith('(avg(crane_container_cpu_percent{app="shop-3",service="web"}))')
    off = rules_by_name(render_rules("crane", record(enabled=False)))
    assert HIGH_LOAD not in off and REPLICAS_DOWN in off


def test_each_autoscaled_service_gets_its_own_load_rules():
    spec = AppSpec.model_validate(
        {
            "name": "shop",
            "services": [
                {"name": "web", "image": "i", "ports": [80], "autoscaling": {"metric": "rps", "target": 5}},
                {"name": "worker", "image": "i", "max_scale": 4, "autoscaling": {"metric": "cpu", "target": 60}},
                {"name": "db", "image": "i"},
            ],
        }
    )
    rules = render_rules("crane", AppRecord(id="shop-3", owner="o", spec=spec))["groups"][0]["rules"]
    load = {
        (r["alert"], r["labels"]["crane_service"]): r["expr"] for r in rules if r.get("alert") in (HIGH_LOAD, LOW_LOAD)
    }
    assert set(load) == {(HIGH_LOAD, "web"), (LOW_LOAD, "web"), (HIGH_LOAD, "worker"), (LOW_LOAD, "worker")}
    assert 'service="worker"' in load[(HIGH_LOAD, "worker")] and "> 66" in load[(HIGH_LOAD, "worker")]


def test_targets_point_at_the_exporter_narrowed_to_the_app():
    assert render_targets("shop-3", "deployer:9100") == [
        {"targets": ["deployer:9100"], "labels": {"crane_app": "shop-3", "__metrics_path__": "/metrics/apps/shop-3"}}
    ]


def test_suite_configs_carry_the_timings_and_the_token_file():
    timings = Timings("1m", "1m", "30s", "5m", "4h")
    prometheus = render_prometheus_config("/etc/m", timings, "am:9093", "traefik:8080", ["api:9100"])
    assert prometheus["global"] == {"scrape_interval": "1m", "evaluation_interval": "1m"}
    assert prometheus["rule_files"] == ["/etc/m/rules/*.yml"]
    alertmanager = render_alertmanager_config("http://bridge/alerts", "/etc/m/webhook-token", timings)
    assert alertmanager["route"]["group_wait"] == "30s"
    http_config = alertmanager["receivers"][0]["webhook_configs"][0]["http_config"]
    assert http_config == {"authorization": {"type": "Bearer", "credentials_file": "/etc/m/webhook-token"}}


def test_the_alerts_watched_are_named_without_the_recording_rules():
    assert alert_names(render_rules("crane", record())) == [HIGH_LOAD, LOW_LOAD, REPLICAS_DOWN, "CraneHighErrorRate"]


def test_an_app_that_does_not_autoscale_is_measured_at_the_slower_cadence():
    from crane_monitor_config.render import cadence

    autoscaled = record(enabled=True)
    fixed = AppRecord(
        id="plain-4",
        owner="o",
        spec=AppSpec.model_validate({"name": "plain", "services": [{"name": "web", "image": "i"}]}),
    )
    assert (cadence(autoscaled), cadence(fixed)) == ("autoscaled", "fixed")
    assert "interval" not in render_rules("crane", autoscaled, fixed_interval="10s")["groups"][0]  # every 0.5 s
    assert render_rules("crane", fixed, fixed_interval="10s")["groups"][0]["interval"] == "10s"
    config = render_prometheus_config("/m", Timings(fixed_interval="15s"), "am:9093", "traefik:8080", [])
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["crane-apps"]["file_sd_configs"][0]["files"] == ["/m/targets/autoscaled/*.json"]
    assert "scrape_interval" not in jobs["crane-apps"]  # the global 0.5 s
    assert jobs["crane-apps-fixed"]["scrape_interval"] == "15s"
    assert jobs["crane-apps-fixed"]["file_sd_configs"][0]["files"] == ["/m/targets/fixed/*.json"]
