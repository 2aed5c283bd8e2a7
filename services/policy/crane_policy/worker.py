"""A long-lived child process that evaluates the admin's policies, one query a line, so that a
policy that loops or crashes the engine (rego-cpp is native code) takes only this process down,
never the policy service (guarded.py kills and replaces it).

    python -m crane_policy.worker     # first line: {"modules": {...}}; then {"query", "input"}
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def _main() -> None:
    from regopy import Interpreter

    # rego-cpp prints compiler errors on stdout: answers go to the real stdout only.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    interpreter = Interpreter()
    modules = json.loads(sys.stdin.readline())["modules"]
    for name, source in sorted(modules.items()):
        interpreter.add_module(name, source)
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in sys.stdin:
        request = json.loads(line)
        answer: dict[str, Any]
        try:
            interpreter.set_input_term(json.dumps(request["input"]))
            output = interpreter.query(request["query"])
            text = str(output) if output.ok() else ""
            expressions = (json.loads(text).get("expressions") or []) if text.startswith("{") else []
            if not output.ok():
                answer = {"ok": False, "error": str(output)}
            elif not expressions:
                answer = {"ok": False, "error": f"{request['query']} is undefined for this input"}
            else:
                answer = {"ok": True, "value": expressions[0]}
        except Exception as exc:  # noqa: BLE001 - the engine's message is the answer
            answer = {"ok": False, "error": str(exc)}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    _main()
