"""Everything monitor-config writes passes Prometheus' and Alertmanager's own checkers."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import yaml

from crane_monitor_config.render import (
    Timings,
    render_alertmanager_config,
    render_prometheus_config,
    render_rules,
)
from crane_shared.appspec import AppRecord, AppSpec
from tests.conftest import app_body
from tests.integration.helpers import wait_gone

METRICS = ["rps", "latency_p95", "cpu", "memory"]


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make deps` installs Debian's prometheus and prometheus-alertmanager")
    return path


@pytest.mark.parametrize("metric", METRICS)
def test_rules_pass_promtool(tmp_path, metric):
    spec = AppSpec.model_validate(
        {"name": "shop", "services": [{"name": "web", "image": "i", "ports": [80]}], "autoscaling": {"metric": metric}}
    )
    rules = tmp_path / "shop-1.yml"
    rules.write_text(yaml.safe_dump(render_rules("crane", AppRecord(id="shop-1", owner="o", spec=spec))))
    result = subprocess.run([tool("promtool"), "check", "rules", str(rules)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("timings", [Timings(), Timings("1m", "1m", "30s", "5m", "4h")])
def test_prometheus_and_alertmanager_configs_pass_their_checkers(tmp_path, timings):
    (tmp_path / "rules").mkdir()
    prometheus = tmp_path / "prometheus.yml"
    prometheus.write_text(
        yaml.safe_dump(render_prometheus_config(str(tmp_path), timings, "am:9093", "traefik:8080", ["api:9100"]))
    )
    checked = subprocess.run([tool("promtool"), "check", "config", str(prometheus)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    token = tmp_path / "webhook-token"
    token.write_text("secret")
    alertmanager = tmp_path / "alertmanager.yml"
    alertmanager.write_text(
        yaml.safe_dump(render_alertmanager_config("http://bridge:9100/alerts", str(token), timings))
    )
    checked = subprocess.run([tool("amtool"), "check-config", str(alertmanager)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_files_written_for_live_apps_pass_the_checkers(suite, user, http_image):
    """promtool check config also checks every rule file the configuration loads."""
    app_id = user.post("/apps?wait=true", json=app_body(http_image, "checked")).json()["id"]
    rules = suite.monitoring_dir / "rules" / f"{app_id}.yml"
    target = suite.monitoring_dir / "targets" / "fixed" / f"{app_id}.json"  # it does not autoscale
    assert rules.exists() and target.exists()
    assert yaml.safe_load(rules.read_text())["groups"][0]["interval"] == "10s"
    config = subprocess.run(
        [tool("promtool"), "check", "config", str(suite.monitoring_dir / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert config.returncode == 0 and f"{app_id}.yml" in config.stdout + config.stderr, config.stdout + config.stderr
    alertmanager = subprocess.run(
        [tool("amtool"), "check-config", str(suite.monitoring_dir / "alertmanager.yml")], capture_output=True, text=True
    )
    assert alertmanager.returncode == 0, alertmanager.stdout + alertmanager.stderr
    user.delete(f"/apps/{app_id}")
    wait_gone(user, app_id)
    deadline = time.monotonic() + 15
    while rules.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not rules.exists(), "deleting the app must remove its rules"
    assert not target.exists()
