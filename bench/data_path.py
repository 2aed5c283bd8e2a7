"""The data path: requests/s and latency through CRANE's router (Traefik) against a direct
connection to the same replicas, side by side in one run.

    python bench/data_path.py [--replicas 3] [--seconds 10] [--connections 24] [--rounds 3]

One app with --replicas replicas of the demo image. Per round, `hey` for --seconds at
--connections connections: through Traefik on 127.0.0.1 with the app's Host header, then
straight to the replicas' addresses (the connections split between them, one `hey` each,
side by side). The two alternate, so drift on the machine hits both. Prints requests/s, p50
and p99 of each and the ratio (router / direct; goal >= 0.8x).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import docker  # noqa: E402

from tests.harness.api import register_and_login  # noqa: E402
from tests.harness.images import build_http_image, remove_image  # noqa: E402
from tests.harness.suite import LocalSuite  # noqa: E402


def hey(url: str, seconds: float, connections: int, host: str | None = None) -> subprocess.Popen[str]:
    argv = ["hey", "-z", f"{seconds:g}s", "-c", str(connections), "-disable-keepalive"]
    return subprocess.Popen([*argv, *(["-host", host] if host else []), url], stdout=subprocess.PIPE, text=True)


def figures(output: str) -> tuple[float, int, dict[str, float]]:
    """(requests/s, non-200 answers and errors, latency quantiles in s) from hey's summary."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    quantiles = {f"p{q}": float(s) for q, s in re.findall(r"\s(\d+)%+ in ([\d.]+) secs", output)}
    ok = sum(int(n) for n in re.findall(r"\[200\]\s+(\d+) responses", output))
    total = sum(int(n) for n in re.findall(r"\[\d+\]\s+(\d+) responses", output))
    errors = sum(int(n) for n in re.findall(r"\]\s+(\d+)\s*$", output.split("Error distribution:")[-1], re.M))
    bad = total - ok + (errors if "Error distribution:" in output else 0)
    return rps, bad, quantiles


def run_all(processes: list[subprocess.Popen[str]]) -> tuple[float, int, dict[str, float]]:
    results = [figures(p.communicate()[0]) for p in processes]
    rps = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    # Split connections measure the same kind of request: their quantiles are averaged.
    quantiles = {q: statistics.mean(r[2][q] for r in results) for q in ("p50", "p99")}
    return rps, bad, quantiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    image = build_http_image("crane-bench-datapath:latest", {"crane.test": "bench"})
    suite = LocalSuite().start()
    client = docker.from_env()
    try:
        api = register_and_login(suite.api_url, "datapath")
        body = {"name": "path", "services": [{"name": "web", "image": image, "ports": ["8080"]}]}
        app_id = api.post("/apps?wait=true", json={**body, "replicas": args.replicas}, timeout=120).json()["id"]
        host = f"{app_id}.localhost"
        suite.wait_distinct_backends(host, args.replicas)
        replicas = client.api.containers(filters={"label": f"crane.app={app_id}"})
        addresses = [next(iter(r["NetworkSettings"]["Networks"].values()))["IPAddress"] for r in replicas]
        share = max(1, args.connections // len(addresses))
        samples: dict[str, list[tuple[float, int, dict[str, float]]]] = {"router": [], "direct": []}
        for n in range(args.rounds):
            samples["router"].append(
                run_all([hey(f"http://127.0.0.1:{suite.http_port}/", args.seconds, args.connections, host)])
            )
            samples["direct"].append(
                run_all([hey(f"http://{address}:8080/", args.seconds, share) for address in addresses])
            )
            router, direct = samples["router"][-1][0], samples["direct"][-1][0]
            print(f"round {n + 1}: router {router:.0f} req/s, direct {direct:.0f} req/s", flush=True)
        print(
            f"\n{args.replicas} replicas, {args.connections} connections, {args.seconds:g} s a round, "
            f"{args.rounds} rounds (medians)"
        )
        print(f"{'path':<22}{'req/s':>10}{'p50':>10}{'p99':>10}{'failed':>8}")
        rps = {}
        for path, rounds in samples.items():
            rps[path] = statistics.median(r[0] for r in rounds)
            p50 = statistics.median(r[2]["p50"] for r in rounds) * 1000
            p99 = statistics.median(r[2]["p99"] for r in rounds) * 1000
            failed = sum(r[1] for r in rounds)
            label = "through Traefik" if path == "router" else "direct to replicas"
            print(f"{label:<22}{rps[path]:>10.0f}{p50:>8.1f}ms{p99:>8.1f}ms{failed:>8}")
        print(f"router / direct (requests/s): {rps['router'] / rps['direct']:.2f}x  (goal >= 0.8x)")
    finally:
        client.close()
        suite.stop()
        remove_image(image)


if __name__ == "__main__":
    main()
