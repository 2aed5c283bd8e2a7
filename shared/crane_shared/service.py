"""Startup and shutdown shared by every service: logging, the bus, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping

from prometheus_client import start_http_server
from pydantic import BaseModel

from .bus import Bus, Handler
from .events import Event
from .settings import CommonSettings


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def stop_on_signals() -> asyncio.Event:
    """An event set on SIGTERM/SIGINT, so services finish the message at hand and exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def consume_forever(service: str, nats_url: str, filter_subject: str, handlers: Mapping[str, Handler]) -> None:
    """Connect as ``service``, consume ``filter_subject`` with a durable of the same name until a
    signal arrives. Enough for a service whose whole job is reacting to events."""
    stop = stop_on_signals()
    bus = await Bus.connect(nats_url, service)
    consumer = asyncio.create_task(bus.consume(service, filter_subject, handlers, stop))
    logging.getLogger(f"crane.{service}").info("%s ready", service)
    await stop.wait()
    await consumer
    await bus.close()


def log_events(service: str, subjects: list[str]) -> dict[str, Handler]:
    """Handlers that only log what arrives (services whose logic comes in a later issue)."""
    log = logging.getLogger(f"crane.{service}")

    async def record(event: Event, payload: BaseModel) -> None:
        log.info("%s %s subject=%s data=%s", event.type, event.id, event.subject, payload.model_dump(mode="json"))

    return {subject: record for subject in subjects}


def run_logging_service(service: str, filter_subject: str, subjects: list[str]) -> None:
    """Entry point of a service that, for now, consumes and logs its subjects."""
    settings = CommonSettings()
    configure_logging(settings.log_level)
    asyncio.run(consume_forever(service, settings.nats_url, filter_subject, log_events(service, subjects)))


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile (periodic loops use it)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def start_metrics_server(port: int) -> None:
    """Serve this process's Prometheus metrics on ``port`` (a warning, not a crash, if taken)."""
    try:
        start_http_server(port)
    except OSError as exc:
        logging.getLogger("crane").warning("metrics port %d unavailable: %s", port, exc)
