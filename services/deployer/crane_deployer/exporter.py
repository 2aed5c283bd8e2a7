"""The deployer's Prometheus exporter: replica counts per app, CPU and memory per container
(from the Engine's stats API), reconcile durations. /metrics has everything; /metrics/apps/<id>
only the app's series, so monitor-config can give each app a scrape target of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crane_shared.service import wait_or_stop

from .engine import Engine, cpu_percent

log = logging.getLogger("crane.deployer.exporter")

APP_REPLICAS = Gauge("crane_app_replicas", "Replicas of an app (all services): desired and ready", ["app", "kind"])
SERVICE_REPLICAS = Gauge(
    "crane_service_replicas", "Replicas of one service of an app: desired and ready", ["app", "service", "kind"]
)
CONTAINER_CPU = Gauge("crane_container_cpu_percent", "CPU of a replica, % of one core", ["app", "service", "container"])
CONTAINER_MEMORY = Gauge("crane_container_memory_bytes", "Memory of a replica", ["app", "service", "container"])
CONTAINER_MEMORY_PERCENT = Gauge(
    "crane_container_memory_percent", "Memory of a replica, % of its limit", ["app", "service", "container"]
)
RECONCILE_SECONDS = Histogram(
    "crane_reconcile_duration_seconds",
    "Time to reconcile one app",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONTAINER_GAUGES = (CONTAINER_CPU, CONTAINER_MEMORY, CONTAINER_MEMORY_PERCENT)


def _forget_services(app_id: str, keep: set[str]) -> None:
    """Drop the per-service series of the app's services not in ``keep``."""
    for sample in [s for metric in SERVICE_REPLICAS.collect() for s in metric.samples]:
        labels = sample.labels
        if labels.get("app") == app_id and labels.get("service") not in keep:
            with contextlib.suppress(KeyError):
                SERVICE_REPLICAS.remove(labels["app"], labels["service"], labels["kind"])


def record_replicas(app_id: str, desired: dict[str, int], ready: dict[str, int]) -> None:
    """Replicas per service and for the whole app (service name -> count)."""
    APP_REPLICAS.labels(app_id, "desired").set(sum(desired.values()))
    APP_REPLICAS.labels(app_id, "ready").set(sum(ready.values()))
    for service, count in desired.items():
        SERVICE_REPLICAS.labels(app_id, service, "desired").set(count)
        SERVICE_REPLICAS.labels(app_id, service, "ready").set(ready.get(service, 0))
    _forget_services(app_id, keep=set(desired))


def forget_app(app_id: str) -> None:
    for kind in ("desired", "ready"):
        with contextlib.suppress(KeyError):
            APP_REPLICAS.remove(app_id, kind)
    _forget_services(app_id, keep=set())


class StatsCollector:
    """Samples every running replica of the suite and keeps the container gauges current."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._previous: dict[str, dict[str, Any]] = {}
        self._labels: set[tuple[str, str, str]] = set()

    async def collect_once(self) -> None:
        replicas = await self.engine.running_replicas()
        samples = await asyncio.gather(*(self.engine.sample(r[3]) for r in replicas), return_exceptions=True)
        seen = set()
        for (app_id, service, name, container_id), sample in zip(replicas, samples, strict=True):
            if isinstance(sample, BaseException):
                continue
            labels = (app_id, service, name)
            seen.add(labels)
            previous = self._previous.get(container_id)
            if previous is not None:
                CONTAINER_CPU.labels(*labels).set(cpu_percent(previous, sample))
            self._previous[container_id] = sample
            memory = sample.get("memory_stats", {})
            usage, limit = memory.get("usage", 0), memory.get("limit", 0)
            CONTAINER_MEMORY.labels(*labels).set(usage)
            CONTAINER_MEMORY_PERCENT.labels(*labels).set(100 * usage / limit if limit else 0)
        for labels in self._labels - seen:
            for gauge in CONTAINER_GAUGES:
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
        self._labels = seen
        live = {r[3] for r in replicas}
        self._previous = {k: v for k, v in self._previous.items() if k in live}

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await self.collect_once()
            except Exception as exc:  # noqa: BLE001 - the Engine may be restarting
                log.warning("stats collection failed: %s", exc)
            await wait_or_stop(stop, interval)


class AppMetricsSnapshot:
    """The registry's samples split by their ``app`` label, collected once per ``max_age``.

    Prometheus scrapes every app's own target twice a second; collecting the whole registry for
    each scrape would cost apps x samples, which starved the deployer at 60 apps. One
    collection is shared by every scrape that comes within ``max_age``.
    """

    def __init__(
        self, registry: CollectorRegistry = REGISTRY, max_age: float = 0.25, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry
        self.max_age = max_age
        self.clock = clock
        self._taken = -math.inf
        self._by_app: dict[str, list[Metric]] = {}

    def for_app(self, app_id: str) -> list[Metric]:
        if self.clock() - self._taken > self.max_age:
            self._by_app = self._split()
            self._taken = self.clock()
        return self._by_app.get(app_id, [])

    def _split(self) -> dict[str, list[Metric]]:
        by_app: dict[str, dict[str, Metric]] = {}
        for family in self.registry.collect():
            for sample in family.samples:
                app_id = sample.labels.get("app")
                if not app_id:
                    continue
                families = by_app.setdefault(app_id, {})
                if family.name not in families:
                    families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                families[family.name].samples.append(sample)
        return {app_id: list(families.values()) for app_id, families in by_app.items()}


class _Metrics:
    """A fixed list of metric families, in the shape generate_latest reads."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


SNAPSHOT = AppMetricsSnapshot()


async def _all_metrics(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def _app_metrics(request: Request) -> Response:
    families = SNAPSHOT.for_app(request.path_params["app_id"])
    return Response(generate_latest(_Metrics(families)), media_type=CONTENT_TYPE_LATEST)


def metrics_app() -> Starlette:
    return Starlette(routes=[Route("/metrics", _all_metrics), Route("/metrics/apps/{app_id}", _app_metrics)])
