"""Events and decisions in one line of words each, for people (``-o json`` gives them whole)."""

from __future__ import annotations

from typing import Any


def scan_counts(counts: dict[str, dict[str, int]]) -> str:
    """{"vulnerability": {"HIGH": 2}, ...} -> "2 high vulnerabilities" (or "nothing found")."""
    found = [
        f"{n} {level.lower()} {_plural(kind, n)}" for kind, levels in counts.items() for level, n in levels.items() if n
    ]
    return ", ".join(found) or "nothing found"


def _plural(noun: str, count: int) -> str:
    if count == 1:
        return noun
    return noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def replicas(count: Any) -> str:
    """ "1 replica", "3 replicas"."""
    return f"{count} {_plural('replica', count if isinstance(count, int) else 2)}"


# Events as words in progress lines (crane events shows the names themselves).
DONE = {"app.deployed": "deployed", "app.scaled": "scaled"}
EVENT_WIDTH = 21  # the longest event name (app.restart_requested): columns stay in line


def decision_text(decision: dict[str, Any]) -> str:
    service = f" {decision['service']}" if decision.get("service") else ""
    return (
        f"{decision.get('action', '?'):<10}{service} {decision.get('current_replicas')} -> "
        f"{decision.get('desired_replicas')}: {decision.get('reason', '')} "
        f"[{decision.get('outcome', '')}, alert {decision.get('alert', '')}]"
    )


def _summary(kind: str, data: dict[str, Any]) -> str:
    if kind == "policy.decision":
        return decision_text(data)
    if kind == "app.created":
        return f"created by {data.get('owner', '?')}"
    if kind in ("app.deployed", "app.scaled"):
        services = data.get("services") or {}
        each = " (" + ", ".join(f"{k} {v}" for k, v in services.items()) + ")" if services else ""
        return f"{replicas(data.get('replicas'))} ready{each}"
    if kind == "app.updated":
        if data.get("replicas") is not None:
            return f"scale {data.get('service') or 'primary service'} to {data['replicas']}"
        if data.get("desired_state"):
            return f"{data['desired_state']} asked"
        return "new configuration"
    if kind == "app.failed":
        return str(data.get("reason", ""))
    if kind == "container.died":
        return f"replica {data.get('container')} exited (code {data.get('exit_code')})"
    if kind in ("alert.firing", "alert.resolved"):
        service = f" on {data['service']}" if data.get("service") else ""
        return f"{data.get('alertname')}{service}: {data.get('annotations', {}).get('summary', '')}".rstrip(": ")
    if kind == "scan.completed":
        verdict = "allowed" if data.get("allowed") else "blocked: " + "; ".join(data.get("reasons", []))
        return f"{data.get('image')}: {verdict}"
    if kind.startswith("build."):
        detail = data.get("error") or (
            f"{len(data.get('lines', []))} lines" if "lines" in data else data.get("image", "")
        )
        return f"{data.get('service')}: {detail}"
    if kind == "event.rejected":
        return f"{data.get('original_subject')} refused by {data.get('consumer')}: {data.get('reason')}"
    return ""


def event_line(event: dict[str, Any]) -> str:
    when = str(event.get("time", ""))[11:19]
    kind = str(event.get("type", ""))
    source = str(event.get("source", "")).removeprefix("crane/")
    subject = event.get("subject") or "-"
    return f"{when}  {kind:<{EVENT_WIDTH}} {subject:<14} {source:<9} {_summary(kind, event.get('data') or {})}"
