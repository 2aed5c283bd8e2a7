"""The adapter to Prometheus' HTTP API: the current value of one PromQL expression."""

from __future__ import annotations

import httpx


class PrometheusError(RuntimeError):
    pass


class Prometheus:
    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=5, transport=transport)

    async def value(self, query: str) -> float | None:
        """The first sample of an instant query, or None when the result is empty."""
        try:
            response = await self._client.get("/api/v1/query", params={"query": query})
        except httpx.HTTPError as exc:
            raise PrometheusError(f"Prometheus did not answer: {exc}") from exc
        body = response.json()
        if body.get("status") != "success":
            raise PrometheusError(f"query failed: {body.get('error', response.text[:200])}")
        result = body["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if value != value else value  # NaN (no data) counts as none
