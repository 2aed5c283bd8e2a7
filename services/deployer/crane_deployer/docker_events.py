"""Follow the Engine's event stream for this suite's containers: a replica that dies (or whose
health changes) is reported as container.died and its app is reconciled at once."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import docker

from .naming import LABEL_APP, LABEL_SERVICE, Naming

log = logging.getLogger("crane.deployer.docker_events")

WATCHED = ["die", "health_status", "destroy"]
# Delivered each time the stream is (re)established: whatever happened while it was down
# (an Engine restart stops every container) is found by a full resync.
CONNECTED = "crane:connected"


def _follow(naming: Naming, deliver: Callable[[dict[str, Any]], None], stop: threading.Event) -> None:
    """Blocking loop (in a thread): stream events, reconnecting after Engine restarts."""
    while not stop.is_set():
        try:
            client = docker.from_env(timeout=None)
            filters = {**naming.suite_filter(), "type": ["container"]}
            events = client.events(decode=True, filters=filters)
            deliver({"Action": CONNECTED})
            for event in events:
                deliver(event)
                if stop.is_set():
                    break
        except Exception as exc:  # noqa: BLE001 - the Engine may restart; keep following
            log.warning("docker event stream interrupted (%s); reconnecting", exc)
        stop.wait(1.0)


async def follow_container_events(
    naming: Naming,
    on_event: Callable[[str, str, dict[str, str]], Awaitable[None]],
    stop: asyncio.Event,
    on_connected: Callable[[], Awaitable[None]],
) -> None:
    """Call ``on_event(action, container_id, labels)`` for every watched event, and
    ``on_connected()`` whenever the stream (re)connects, until ``stop``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    thread_stop = threading.Event()

    def deliver(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    thread = threading.Thread(target=_follow, args=(naming, deliver, thread_stop), daemon=True)
    thread.start()
    try:
        while not stop.is_set():
            try:
                event = await asyncio.wait_for(queue.get(), timeout=1)
            except TimeoutError:
                continue
            if event.get("Action") == CONNECTED:
                await on_connected()
                continue
            actor = event.get("Actor", {})
            labels = actor.get("Attributes", {})
            action = event.get("Action", "").split(":")[0]
            if action in WATCHED and labels.get(LABEL_APP) and labels.get(LABEL_SERVICE) is not None:
                await on_event(event.get("Action", ""), actor.get("ID", ""), labels)
    finally:
        thread_stop.set()
