"""Small statistics shared by the benchmarks."""

import statistics


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def print_table(labels: dict[str, str], samples: dict[str, list[float]]) -> None:
    """One row per measure: median, p95, min and max of its samples (seconds)."""
    print(f"{'measure':<34}{'median':>9}{'p95':>9}{'min':>9}{'max':>9}")
    for key, values in samples.items():
        print(
            f"{labels[key]:<34}{statistics.median(values):>8.2f}s{percentile(values, 0.95):>8.2f}s"
            f"{min(values):>8.2f}s{max(values):>8.2f}s"
        )
