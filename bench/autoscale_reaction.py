"""Autoscaling reaction time: CRANE's default timings beside the original CRANE's (Prometheus'
and Alertmanager's defaults), measured in one run on the real stack.

    python bench/autoscale_reaction.py [--trials 10] [--default-trials 5] [--rate 30]

Per trial: deploy an app (1 replica, min 1, max 4, target 5 requests/s per replica, scale-down
stabilization 10 s), start load at a fixed rate above the target with `hey` on 127.0.0.1, and
measure (a) load start -> a new replica answers through Traefik, (b) load stop -> the app is back
at 1 replica. Prints every sample with where its scale-out's time went (from the causal chain's
timestamps: STEPS), p50/p95 per configuration, the median of each step, and the ratio of the
medians. Goals (issue 21): scale-out p50 <= 3 s and p95 <= 5 s over at least 10 trials.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "shared"), str(REPO / "deploy")]

import httpx  # noqa: E402
from measures import percentile  # noqa: E402

from crane_shared.alert_names import HIGH_LOAD  # noqa: E402
from tests.harness.api import register_and_login  # noqa: E402
from tests.harness.images import build_http_image, remove_image  # noqa: E402
from tests.harness.suite import LocalSuite, get_through_router, wait_distinct_backends  # noqa: E402

CONFIGS = {
    "crane": {},  # 1s scrape and evaluation, group_wait 1s, group_interval 1s
    "original": {
        "scrape_interval": "1m",
        "evaluation_interval": "1m",
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        "rate_window": "2m",  # rate() needs at least two scrapes
        "alert_resend_delay": "1m",  # Prometheus' default
    },
}
STABILIZATION = 10.0


def wait_scraped(suite: LocalSuite, app_id: str, timeout: float) -> None:
    """Until Prometheus has the app's replica gauge: its file_sd target is being scraped."""
    query = f'crane_app_replicas{{app="{app_id}",kind="ready"}}'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = httpx.get(f"{suite.prometheus_url}/api/v1/query", params={"query": query}).json()["data"]["result"]
        if result:
            return
        time.sleep(0.5)
    raise TimeoutError(f"Prometheus did not scrape {app_id} within {timeout}s")


# Where a scale-out's time goes, from the causal chain's timestamps (each step ends where the
# next begins): the load until Prometheus' rule fires (scrapes, the rate window, the rule's
# evaluation: Alertmanager's startsAt), Alertmanager until the bridge publishes alert.firing,
# the policy's policy.decision, the deployer's container.created (its pass and the container's
# start), and the router until the new replica answers through it.
STEPS = ("rule fires", "alertmanager+bridge", "policy", "deployer+start", "router")


def app_events(api: httpx.Client, app_id: str) -> list[dict]:
    """The app's events of the last minutes, as GET /events replays them."""
    response = api.get("/events", params={"app": app_id, "follow": "false", "since": 600}, timeout=30)
    response.raise_for_status()
    return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]


def when(event: dict) -> float:
    return datetime.fromisoformat(event["time"]).timestamp()


def breakdown(events: list[dict], load_started: float, answered: float) -> dict[str, float] | None:
    """The steps of the first scale-out after ``load_started`` (wall clock), or None if its
    chain is not all there."""
    firing = next(
        (
            e
            for e in events
            if e["type"] == "alert.firing" and e["data"].get("alertname") == HIGH_LOAD and when(e) >= load_started
        ),
        None,
    )
    if firing is None or not firing["data"].get("starts_at"):
        return None
    chain = firing.get("correlationid") or firing["id"]
    in_chain = [e for e in events if (e.get("correlationid") or e["id"]) == chain]
    decision = next((e for e in in_chain if e["type"] == "policy.decision" and e["data"]["action"] == "scale_up"), None)
    created = next((e for e in in_chain if e["type"] == "container.created" and e["data"]["replica"] > 0), None)
    if decision is None or created is None:
        return None
    fired = datetime.fromisoformat(firing["data"]["starts_at"]).timestamp()
    marks = [load_started, fired, when(firing), when(decision), when(created), answered]
    return {step: marks[n + 1] - marks[n] for n, step in enumerate(STEPS)}


def trial(
    suite: LocalSuite, api: httpx.Client, image: str, rate: int, timeout: float
) -> tuple[float, float, dict[str, float] | None]:
    body = {
        "name": "bench",
        "replicas": 1,
        "min_scale": 1,
        "max_scale": 4,
        "services": [{"name": "web", "image": image, "ports": ["8080"]}],
        "autoscaling": {"metric": "rps", "target": 5, "scale_down_stabilization": STABILIZATION},
    }
    app = api.post("/apps?wait=true", json=body).json()
    app_id = app["id"]
    try:
        wait_scraped(suite, app_id, timeout)
        host = f"{app_id}.localhost"
        # The replica that serves before the load (once Traefik routes to it at all).
        (first,) = wait_distinct_backends(suite.http_port, host, 1, timeout=30)
        workers = 3
        load = subprocess.Popen(
            [
                "hey",
                "-z",
                f"{int(timeout)}s",
                "-q",
                str(rate // workers),
                "-c",
                str(workers),
                "-host",
                host,
                f"http://127.0.0.1:{suite.http_port}/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started, load_started = time.perf_counter(), time.time()
        scale_out = None
        try:
            while time.perf_counter() - started < timeout:
                try:
                    response = get_through_router(suite.http_port, host, timeout=1)
                    answer = response.text.strip() if response.status_code == 200 else first
                except httpx.HTTPError:
                    answer = first
                if answer != first:
                    scale_out, answered = time.perf_counter() - started, time.time()
                    break
                time.sleep(0.05)
        finally:
            load.kill()
            load.wait()
        if scale_out is None:
            raise TimeoutError(f"no new replica answered within {timeout}s")
        stopped = time.perf_counter()
        while time.perf_counter() - stopped < timeout:
            current = api.get(f"/apps/{app_id}").json()
            if current["desired_replicas"] == 1 and current["running_replicas"] == 1:
                scale_in = time.perf_counter() - stopped
                return scale_out, scale_in, breakdown(app_events(api, app_id), load_started, answered)
            time.sleep(0.25)
        raise TimeoutError(f"did not scale back to 1 replica within {timeout}s")
    finally:
        api.delete(f"/apps/{app_id}")
        while api.get(f"/apps/{app_id}").status_code != 404:
            time.sleep(0.2)


def run_config(name: str, trials: int, image: str, rate: int) -> dict[str, list[float]]:
    timeout = 60.0 if name == "crane" else 420.0
    suite = LocalSuite(timings=CONFIGS[name], resync_seconds=15).start()
    samples: dict[str, list[float]] = {"out": [], "in": [], **{step: [] for step in STEPS}}
    try:
        api = register_and_login(suite.api_url, "bench")
        for number in range(1, trials + 1):
            scale_out, scale_in, steps = trial(suite, api, image, rate, timeout)
            samples["out"].append(scale_out)
            samples["in"].append(scale_in)
            for step, seconds in (steps or {}).items():
                samples[step].append(seconds)
            where = "  ".join(f"{step} {seconds:.2f}" for step, seconds in steps.items()) if steps else "(no chain)"
            print(
                f"{name:<9} trial {number}: load -> new replica {scale_out:6.2f}s   "
                f"load stop -> 1 replica {scale_in:6.2f}s   {where}",
                flush=True,
            )
    finally:
        suite.stop()
    return samples


def main() -> None:
    # A benchmark stopped with SIGTERM still removes what it started (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10, help="trials with CRANE's timings")
    parser.add_argument("--default-trials", type=int, default=5, help="trials with the original timings")
    parser.add_argument("--rate", type=int, default=30, help="requests per second of the load (target is 5)")
    args = parser.parse_args()
    tag = f"crane-bench-http:{uuid.uuid4().hex[:6]}"
    image = build_http_image(tag, {"crane.test": "bench"})
    results = {}
    try:
        results["crane"] = run_config("crane", args.trials, image, args.rate)
        if args.default_trials:
            results["original"] = run_config("original", args.default_trials, image, args.rate)
    finally:
        remove_image(tag)
    print()
    print(f"{'configuration':<44}{'p50':>9}{'p95':>9}{'max':>9}")
    for name, samples in results.items():
        for key, label in (("out", "load start -> new replica answers"), ("in", "load stop -> back at 1 replica")):
            values = samples[key]
            print(
                f"{name + ': ' + label:<44}{statistics.median(values):>8.2f}s{percentile(values, 0.95):>8.2f}s"
                f"{max(values):>8.2f}s"
            )
    for name, samples in results.items():
        if samples[STEPS[0]]:
            print(f"\n{name}: where a scale-out's time goes (median of {len(samples[STEPS[0]])} trials)")
            for step in STEPS:
                print(f"  {step:<24}{statistics.median(samples[step]):>7.2f}s")
    if "original" in results:
        ratio = statistics.median(results["original"]["out"]) / statistics.median(results["crane"]["out"])
        print(f"\nscale-out, original / CRANE (medians): {ratio:.1f}x")
    print(f"scale-down stabilization window: {STABILIZATION:.0f}s (goal: back at 1 replica within window + 10 s)")


if __name__ == "__main__":
    main()
