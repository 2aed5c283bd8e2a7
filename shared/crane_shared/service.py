"""Startup and shutdown shared by every service: logging, signals, periodic waits, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from prometheus_client import start_http_server

from .bus import Bus
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


async def connect_service_bus(settings: CommonSettings, service: str) -> Bus:
    """The bus of ``service``, with its own NATS credentials."""
    return await Bus.connect(settings.nats_url, service, credentials=settings.nats_credentials())
