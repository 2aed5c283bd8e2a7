"""Server-Sent Events, as browsers' EventSource and the crane CLI read them."""

from __future__ import annotations

KEEPALIVE = ": keepalive\n\n"  # a comment line: keeps proxies and clients from timing out
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MEDIA_TYPE = "text/event-stream"


def message(event: str, data: str, id: str | int | None = None) -> str:
    """One message; ``data`` may span lines (each becomes a data: line)."""
    head = f"id: {id}\n" if id is not None else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}event: {event}\n{body}\n"
