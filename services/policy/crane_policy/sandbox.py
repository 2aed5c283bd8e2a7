"""Compile and dry-run policies in a child process: rego-cpp can crash on some inputs (for
instance `with input as` in 1.5), and a policy an admin uploads must never take the policy
service down with it.

    echo '{"modules": {...}, "input": {...}}' | python -m crane_policy.sandbox
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from .engines import DECISION_QUERY

TIMEOUT_SECONDS = 10


async def policy_child(module: str, stderr: int) -> asyncio.subprocess.Process:
    """A child Python running ``module`` (this package importable), talking over pipes: where
    rego-cpp runs policies an admin wrote, so that it can only take the child down."""
    package_root = str(Path(__file__).resolve().parents[1])
    pythonpath = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        env={**os.environ, "PYTHONPATH": pythonpath},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )


async def run_in_sandbox(
    modules: dict[str, str], policy_input: dict[str, Any] | None, query: str = DECISION_QUERY
) -> dict[str, Any]:
    """{"ok": True, "decision": ...} or {"ok": False, "error": "<compiler or engine message>"}."""
    process = await policy_child("crane_policy.sandbox", stderr=asyncio.subprocess.PIPE)
    request = json.dumps({"modules": modules, "input": policy_input, "query": query}).encode()
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(request), TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        return {"ok": False, "error": f"the policy did not finish within {TIMEOUT_SECONDS}s"}
    if process.returncode != 0:
        detail = stderr.decode(errors="replace").strip()[-2000:]
        return {"ok": False, "error": f"the Rego engine failed (exit {process.returncode}): {detail}".strip()}
    result: dict[str, Any] = json.loads(stdout)
    return result


def _main() -> None:
    from regopy import Interpreter

    # rego-cpp prints compiler errors on stdout: keep the real stdout for the JSON answer only.
    answer_stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    request = json.load(sys.stdin)
    interpreter = Interpreter()
    try:
        for name, source in sorted(request["modules"].items()):
            interpreter.add_module(name, source)
        if request.get("input") is None:
            output = interpreter.query("data.crane")  # compiles every module
            answer: dict[str, Any] = {"ok": output.ok(), "decision": None}
        else:
            interpreter.set_input_term(json.dumps(request["input"]))
            query = request.get("query") or DECISION_QUERY
            output = interpreter.query(query)
            text = str(output) if output.ok() else ""
            expressions = (json.loads(text).get("expressions") or []) if text.startswith("{") else []
            answer = {"ok": output.ok(), "decision": expressions[0] if expressions else None}
            if output.ok() and not expressions:
                answer = {"ok": False, "error": f"{query} is undefined for this input"}
        if not output.ok():
            answer["error"] = str(output)
    except Exception as exc:  # noqa: BLE001 - the compiler's message is the answer
        answer = {"ok": False, "error": str(exc)}
    json.dump(answer, answer_stream)
    answer_stream.flush()


if __name__ == "__main__":
    _main()
