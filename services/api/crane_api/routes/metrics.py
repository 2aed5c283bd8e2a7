"""An app's measurements over time (requests per second and p95 latency per replica, CPU and
memory), read from Prometheus by the API with the same PromQL the alerts and the policy use, so
the console can chart them without Prometheus being exposed to the browser."""

from __future__ import annotations

import math
import time
from typing import Annotated

import httpx
from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from crane_shared.app_metrics import metric_query

from ..deps import GatewayDep, OwnedApp

router = APIRouter(tags=["apps"])
METRICS = ("rps", "latency_p95", "cpu", "memory")
POINTS = 120  # per series at most


class AppMetrics(BaseModel):
    """[unix seconds, value] points of each metric for one service, ``step`` seconds apart;
    ``problem`` says why there are none (no Prometheus, or it did not answer)."""

    service: str
    step: int
    series: dict[str, list[list[float]]]  # [unix seconds, value] pairs
    problem: str | None = None


@router.get("/apps/{app_id}/metrics", response_model=AppMetrics)
async def app_metrics(
    record: OwnedApp,
    gateway: GatewayDep,
    minutes: Annotated[int, Query(ge=1, le=360, description="how far back")] = 10,
    service: Annotated[str | None, Query(max_length=64, description="default: the routed (or first) service")] = None,
) -> AppMetrics:
    url = gateway.settings.prometheus_url
    chosen = record.spec.service(service)  # None: the primary service
    if chosen is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"service: the app has no service {service!r}")
    end = time.time()
    step = max(2, minutes * 60 // POINTS)
    empty = AppMetrics(service=chosen.name, step=step, series={m: [] for m in METRICS})
    if not url:  # the page still works: it says why there is nothing to chart
        return empty.model_copy(update={"problem": "no Prometheus is configured (CRANE_PROMETHEUS_URL)"})
    series: dict[str, list[list[float]]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=5) as prometheus:
        for metric in METRICS:
            query = metric_query(gateway.settings.suite, record.id, chosen, metric)
            params: dict[str, str | float] = {"query": query, "start": end - minutes * 60, "end": end, "step": step}
            try:
                answer = (await prometheus.get("/api/v1/query_range", params=params)).json()
            except (httpx.HTTPError, ValueError):
                return empty.model_copy(update={"problem": f"Prometheus at {url} did not answer"})
            result = answer.get("data", {}).get("result") or [{}]
            points = [[float(t), float(v)] for t, v in result[0].get("values", []) if not math.isnan(float(v))]
            series[metric] = points
    return AppMetrics(service=chosen.name, step=step, series=series)
