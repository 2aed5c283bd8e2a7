"""What idle apps cost the suite's Prometheus, side by side in one run: N apps that do not
autoscale (scraped and evaluated every 10 s, monitor-config's fixed cadence), then the same N
apps given autoscaling (every 0.5 s, so that a decision comes within seconds).

    python bench/idle_cost.py [--apps 40] [--seconds 30]

For each phase, once Prometheus has loaded every app: its CPU (process_cpu_seconds_total from
its own /metrics) and the scrapes it makes per second, over --seconds of idleness. Prints both
and the ratios (autoscaled / fixed).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import httpx  # noqa: E402

from tests.harness.api import register_and_login  # noqa: E402
from tests.harness.images import build_http_image, remove_image  # noqa: E402
from tests.harness.suite import LocalSuite  # noqa: E402
from tests.integration.helpers import metric_total, metrics_at  # noqa: E402


def prometheus_counters(suite: LocalSuite) -> tuple[float, float]:
    """(CPU seconds, scrapes made) of the suite's Prometheus so far."""
    url = f"{suite.prometheus_url}/metrics"
    return metrics_at(url, "process_cpu_seconds_total"), metrics_at(
        url, "prometheus_target_interval_length_seconds_count"
    )


def loaded(suite: LocalSuite, job: str, count: int, timeout: float = 120) -> None:
    """Until Prometheus has the replica gauge of ``count`` apps from ``job``."""
    query = f'count(count by (app) (crane_app_replicas{{job="{job}",kind="ready"}}))'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = httpx.get(f"{suite.prometheus_url}/api/v1/query", params={"query": query}, timeout=10).json()
        if result["data"]["result"] and float(result["data"]["result"][0]["value"][1]) >= count:
            return
        time.sleep(1)
    raise TimeoutError(f"Prometheus did not have {count} apps from {job} within {timeout}s")


def idle(suite: LocalSuite, seconds: float) -> tuple[float, float, float]:
    """(Prometheus' cores busy, its scrapes per second, the deployer's cores busy) over
    ``seconds`` of idleness."""
    cpu0, scrapes0 = prometheus_counters(suite)
    deployer0 = metric_total(suite, "deployer", "process_cpu_seconds_total")
    time.sleep(seconds)
    cpu1, scrapes1 = prometheus_counters(suite)
    return (
        (cpu1 - cpu0) / seconds,
        (scrapes1 - scrapes0) / seconds,
        (metric_total(suite, "deployer", "process_cpu_seconds_total") - deployer0) / seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    image = build_http_image("crane-bench-idle:latest", {"crane.test": "bench"})
    suite = LocalSuite(resync_seconds=15).start()  # the deployer's default
    try:
        service = {"name": "web", "image": image, "ports": ["8080"]}
        owned = []  # (user, app id): 5 apps a user, well within the default quotas
        for n in range(args.apps):
            if n % 5 == 0:
                user = register_and_login(suite.api_url, f"bench{n}")
            created = user.post("/apps", json={"name": f"idle{n}", "services": [service]}, timeout=60)
            if created.status_code != 202:
                raise SystemExit(f"app {n} refused: {created.text}")
            owned.append((user, created.json()["id"]))
        print(f"{args.apps} apps created; waiting for Prometheus to scrape them all")
        loaded(suite, "crane-apps-fixed", args.apps)
        fixed = idle(suite, args.seconds)
        scaled = {**service, "max_scale": 2, "autoscaling": {"metric": "rps", "target": 1000}}  # never reached: idle
        for user, app_id in owned:
            user.patch(f"/apps/{app_id}", json={"services": [scaled]}, timeout=60).raise_for_status()
        loaded(suite, "crane-apps", args.apps)
        autoscaled = idle(suite, args.seconds)
        print(f"\nPrometheus (and the deployer), {args.apps} idle apps, over {args.seconds:g} s each:")
        print(f"{'cadence':<34}{'cores busy':>12}{'scrapes/s':>12}{'deployer':>10}")
        print(f"{'fixed (10 s: no autoscaling)':<34}{fixed[0]:>12.3f}{fixed[1]:>12.1f}{fixed[2]:>10.3f}")
        print(f"{'autoscaled (0.5 s)':<34}{autoscaled[0]:>12.3f}{autoscaled[1]:>12.1f}{autoscaled[2]:>10.3f}")
        print(
            f"ratio autoscaled/fixed: CPU {autoscaled[0] / max(fixed[0], 1e-6):.1f}x, "
            f"scrapes {autoscaled[1] / max(fixed[1], 1e-6):.1f}x"
        )
    finally:
        suite.stop()
        remove_image(image)


if __name__ == "__main__":
    main()
