"""Where Rego policies are evaluated: embedded (regopy, rego-cpp in process) by default, or an
OPA server through its REST Data API when CRANE_OPA_URL is set. Both answer the same queries
(data.crane.autoscale.decision, data.crane.admission.decision, data.crane.scan.decision) for the
same input."""

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

    async def query(self, path: str, policy_input: dict[str, Any]) -> Any:
        """The value of data.<path> ("crane/admission/decision") for ``policy_input``."""
        ...


async def autoscale_decision(engine: PolicyEngine, policy_input: dict[str, Any]) -> dict[str, Any]:
    decision = await engine.query(PACKAGE_PATH + "/decision", policy_input)
    if not isinstance(decision, dict) or "action" not in decision:
        raise PolicyError(f"{DECISION_QUERY} must be an object with an action, got {decision!r}")
    return decision


async def verdict(engine: PolicyEngine, package: str, policy_input: dict[str, Any]) -> dict[str, Any]:
    """{"allowed": bool, "reasons": [...]} from data.<package>.decision (admission, scan)."""
    decision = await engine.query(f"{package}/decision", policy_input)
    if not isinstance(decision, dict) or not isinstance(decision.get("allowed"), bool):
        raise PolicyError(f"data.{package.replace('/', '.')}.decision must be an object with allowed, got {decision!r}")
    return {"allowed": decision["allowed"], "reasons": [str(r) for r in decision.get("reasons") or []]}


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

    async def query(self, path: str, policy_input: dict[str, Any]) -> Any:
        return self.evaluate("data." + path.replace("/", "."), policy_input)


class OpaServer:
    """An OPA server: POST /v1/data/<path> {"input": ...}."""

    name = "opa"

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=5, transport=transport)

    async def push(self, modules: dict[str, str], previous: dict[str, str]) -> None:
        """Give OPA the policies as they are now (PUT /v1/policies/<name>), and take back the
        ones removed since ``previous``: the admin's edits decide in OPA mode too."""
        try:
            for name, source in sorted(modules.items()):
                if previous.get(name) != source:
                    response = await self._client.put(
                        f"/v1/policies/crane-{name}", content=source, headers={"Content-Type": "text/plain"}
                    )
                    if response.status_code != 200:
                        raise PolicyError(f"OPA refused policy {name}: {response.text[:300]}")
            for name in sorted(set(previous) - set(modules)):
                await self._client.delete(f"/v1/policies/crane-{name}")
        except httpx.HTTPError as exc:
            raise PolicyError(f"OPA did not answer: {exc}") from exc

    async def query(self, path: str, policy_input: dict[str, Any]) -> Any:
        try:
            response = await self._client.post(f"/v1/data/{path}", json={"input": policy_input})
        except httpx.HTTPError as exc:
            raise PolicyError(f"OPA did not answer: {exc}") from exc
        if response.status_code != 200:
            raise PolicyError(f"OPA answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        if "result" not in body:
            raise PolicyError(f"OPA returned no decision for {path}: {response.text[:300]}")
        return body["result"]
