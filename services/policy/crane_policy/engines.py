"""Where Rego policies are evaluated: embedded (regopy, rego-cpp in process) by default, or an
OPA server through its REST Data API when CRANE_OPA_URL is set. Both answer the same query,
data.crane.autoscale.decision, for the same input."""

from __future__ import annotations

import json
from typing import Any, Protocol

import httpx

PACKAGE_PATH = "crane/autoscale"
DECISION_QUERY = "data.crane.autoscale.decision"


class PolicyError(RuntimeError):
    """A policy could not be evaluated; the message says why."""


class PolicyEngine(Protocol):
    name: str

    async def decide(self, policy_input: dict[str, Any]) -> dict[str, Any]: ...


class EmbeddedRego:
    """rego-cpp through regopy: about a millisecond a decision, no server to run."""

    name = "regopy"

    def __init__(self, modules: dict[str, str]) -> None:
        from regopy import Interpreter

        self._interpreter = Interpreter()
        for module_name, source in sorted(modules.items()):
            self._interpreter.add_module(module_name, source)

    def evaluate(self, query: str, policy_input: dict[str, Any]) -> Any:
        self._interpreter.set_input_term(json.dumps(policy_input))
        output = self._interpreter.query(query)
        if not output.ok():
            raise PolicyError(str(output))
        text = str(output)
        expressions = (json.loads(text).get("expressions") or []) if text.startswith("{") else []
        if not expressions:
            raise PolicyError(f"{query} is undefined for this input")
        return expressions[0]

    async def decide(self, policy_input: dict[str, Any]) -> dict[str, Any]:
        decision = self.evaluate(DECISION_QUERY, policy_input)
        if not isinstance(decision, dict) or "action" not in decision:
            raise PolicyError(f"{DECISION_QUERY} must be an object with an action, got {decision!r}")
        return decision


class OpaServer:
    """An OPA server: POST /v1/data/crane/autoscale/decision {"input": ...}."""

    name = "opa"

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=5, transport=transport)

    async def decide(self, policy_input: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(f"/v1/data/{PACKAGE_PATH}/decision", json={"input": policy_input})
        except httpx.HTTPError as exc:
            raise PolicyError(f"OPA did not answer: {exc}") from exc
        if response.status_code != 200:
            raise PolicyError(f"OPA answered {response.status_code}: {response.text[:300]}")
        result = response.json().get("result")
        if not isinstance(result, dict) or "action" not in result:
            raise PolicyError(f"OPA returned no decision for {PACKAGE_PATH}: {response.text[:300]}")
        return result
