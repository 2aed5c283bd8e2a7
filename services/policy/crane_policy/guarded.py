"""The admin's policies on a time budget. Live decisions (admission, scan verdicts, autoscaling)
are evaluated in a worker process (worker.py) that must answer within ``budget`` seconds; one
that is too slow, or whose engine crashes, is killed and the shipped policies answer instead
(evaluated here: CRANE's own policies are known to be quick). The reason is logged, counted in
``crane_policy_fallbacks_total`` and shown as the engine of the decision; the next query starts a
fresh worker. The shipped policies alone need no worker."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from prometheus_client import Counter

from .engines import EmbeddedRego, PolicyError
from .sandbox import policy_child

log = logging.getLogger("crane.policy.guarded")
STARTUP_SECONDS = 15.0  # a fresh worker: Python, the engine and the modules (not the budget)
FALLBACKS = Counter(
    "crane_policy_fallbacks_total",
    "Live decisions the shipped policies made because the admin's were too slow or crashed",
    ["package", "why"],
)


class _WorkerFailed(RuntimeError):
    pass


class GuardedRego:
    def __init__(self, modules: dict[str, str], shipped: dict[str, str], budget: float) -> None:
        self.modules = modules
        self.budget = budget
        self.shipped = EmbeddedRego(shipped)
        self.own = modules == shipped  # nothing of the admin's to guard against
        self._worker: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self.name = "regopy"

    async def query(self, path: str, policy_input: dict[str, Any]) -> Any:
        if self.own:
            return await self.shipped.query(path, policy_input)
        query = "data." + path.replace("/", ".")
        try:
            async with self._lock:
                worker = await asyncio.wait_for(self._started(), STARTUP_SECONDS)
                answer = await asyncio.wait_for(self._ask(worker, query, policy_input), self.budget)
        except TimeoutError:
            why, detail = "slow", f"the admin's policies took over {self.budget:g} s"
        except _WorkerFailed as exc:
            why, detail = "crashed", str(exc)
        else:
            self.name = "regopy"
            if not answer.get("ok"):
                raise PolicyError(str(answer.get("error")))
            return answer["value"]
        await self.close()
        package = path.rsplit("/", 1)[0]
        FALLBACKS.labels(package, why).inc()
        log.warning("%s: %s; the shipped policy decides", query, detail)
        self.name = f"regopy, shipped policy ({detail})"
        return await self.shipped.query(path, policy_input)

    async def _ask(
        self, worker: asyncio.subprocess.Process, query: str, policy_input: dict[str, Any]
    ) -> dict[str, Any]:
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write((json.dumps({"query": query, "input": policy_input}) + "\n").encode())
        await worker.stdin.drain()
        line = await worker.stdout.readline()
        if not line:
            code = await worker.wait()
            self._worker = None
            raise _WorkerFailed(f"the Rego engine crashed on the admin's policies (exit {code})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def _started(self) -> asyncio.subprocess.Process:
        if self._worker is None or self._worker.returncode is not None:
            self._worker = await policy_child("crane_policy.worker", stderr=asyncio.subprocess.DEVNULL)
            assert self._worker.stdin is not None and self._worker.stdout is not None
            self._worker.stdin.write((json.dumps({"modules": self.modules}) + "\n").encode())
            await self._worker.stdin.drain()
            if not await self._worker.stdout.readline():  # {"ready": true} once the modules are in
                code = await self._worker.wait()
                self._worker = None
                raise _WorkerFailed(f"the Rego engine crashed loading the admin's policies (exit {code})")
        return self._worker

    async def close(self) -> None:
        """Kill the worker (a fresh one starts with the next query)."""
        worker, self._worker = self._worker, None
        if worker is not None and worker.returncode is None:
            worker.kill()
            await worker.wait()
