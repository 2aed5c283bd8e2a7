"""The lab's load generator: a bounded stream of requests at a steady rate to one app's own
route on this machine (the router, with the app's host name), started and stopped through the
API, so a class can make an alert fire and watch CRANE scale without any other tool.

Requests are sent open-loop (on a fixed schedule, not waiting for answers) with at most
``MAX_IN_FLIGHT`` unanswered; what could not be sent in time is counted as failed. Each run
announces itself (lab.load_started) and its outcome (lab.load_finished, same chain).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crane_shared import subjects as s
from crane_shared.appspec import utcnow
from crane_shared.bus import Bus
from crane_shared.correlation import chain_of
from crane_shared.events import LabLoadFinished, LabLoadStarted

log = logging.getLogger("crane.api.lab")

MAX_RATE = 200.0  # requests a second
MAX_SECONDS = 300.0
MAX_IN_FLIGHT = 64
REQUEST_TIMEOUT_SECONDS = 5.0
MAX_RUNS = 4  # at once, on the whole suite
MAX_RUNS_PER_OWNER = 2  # at once, of one owner's apps: one user never takes every slot
LATENCIES_KEPT = 20_000


class LoadPlan(BaseModel):
    """A load to send: ``rate`` requests a second for ``seconds``, to ``path`` of the app."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(default=10, gt=0, le=MAX_RATE, description="requests a second (at most 200)")
    seconds: float = Field(default=30, gt=0, le=MAX_SECONDS, description="how long (at most 300 s)")
    path: str = Field(
        default="/",
        max_length=200,
        pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$",
        description="the path requested on the app's own host (it starts with /)",
    )

    @field_validator("path")
    @classmethod
    def _only_a_path(cls, path: str) -> str:
        if path.startswith("//"):  # would name another host
            raise ValueError("a path on the app's own host, which starts with a single /")
        return path


class LoadStatus(BaseModel):
    """A run as it stands: what was sent and answered so far."""

    run_id: str
    app_id: str
    rate: float
    seconds: float
    path: str
    started_at: datetime
    running: bool
    stopped: bool
    sent: int
    ok: int
    failed: int
    p95_ms: float | None


def send_times(rate: float, seconds: float) -> list[float]:
    """When each request is due, in seconds from the start: evenly ``1/rate`` apart."""
    count = math.floor(rate * seconds + 1e-9)
    return [i / rate for i in range(count)]


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile of ``values`` (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class LoadRun:
    run_id: str
    app_id: str
    plan: LoadPlan
    owner: str = ""
    started_at: datetime = field(default_factory=utcnow)
    sent: int = 0
    ok: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    stopped: bool = False
    task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def status(self) -> LoadStatus:
        return LoadStatus(
            run_id=self.run_id,
            app_id=self.app_id,
            rate=self.plan.rate,
            seconds=self.plan.seconds,
            path=self.plan.path,
            started_at=self.started_at,
            running=self.running,
            stopped=self.stopped,
            sent=self.sent,
            ok=self.ok,
            failed=self.failed,
            p95_ms=percentile(self.latencies_ms, 95),
        )

    def answered(self, ok: bool, latency_ms: float) -> None:
        self.ok += ok
        self.failed += not ok
        if len(self.latencies_ms) < LATENCIES_KEPT:
            self.latencies_ms.append(latency_ms)


class LabBusy(RuntimeError):
    """A load runs on the app already, or the suite runs as many as it allows."""


Announce = Callable[[str, BaseModel, str | None], Awaitable[str]]


def announcing_on(bus: Bus) -> Announce:
    """Publish a lab event in ``chain`` (None: it begins one); answer the event's chain."""

    async def announce(subject: str, payload: BaseModel, chain: str | None) -> str:
        return chain_of(await bus.emit(subject, payload, correlationid=chain))

    return announce


class Lab:
    """The runs of the suite, one at most per app (the last one of each is kept to be read)."""

    def __init__(self, router_url: str, app_host: Callable[[str], str], announce: Announce) -> None:
        self.router_url = router_url
        self.app_host = app_host
        # Publishes a lab event (subject, payload, chain) and answers the event's id.
        self.announce = announce
        self.runs: dict[str, LoadRun] = {}

    def get(self, app_id: str) -> LoadRun | None:
        return self.runs.get(app_id)

    async def start(self, app_id: str, plan: LoadPlan, owner: str = "") -> LoadRun:
        current = self.runs.get(app_id)
        if current is not None and current.running:
            raise LabBusy(f"a load runs on {app_id} already (stop it first)")
        if sum(run.running and run.owner == owner for run in self.runs.values()) >= MAX_RUNS_PER_OWNER:
            raise LabBusy(f"{MAX_RUNS_PER_OWNER} loads run on your apps already (the most one owner may)")
        if sum(run.running for run in self.runs.values()) >= MAX_RUNS:
            raise LabBusy(f"{MAX_RUNS} loads run on this suite already; wait for one to end")
        run = LoadRun(run_id=f"load-{uuid.uuid4().hex[:8]}", app_id=app_id, plan=plan, owner=owner)
        started = LabLoadStarted(app_id=app_id, run_id=run.run_id, rate=plan.rate, seconds=plan.seconds, path=plan.path)
        chain = await self.announce(s.LAB_LOAD_STARTED, started, None)
        self.runs[app_id] = run
        run.task = asyncio.create_task(self._run(run, chain))
        log.info("lab: %s sends %s req/s for %s s to %s%s", run.run_id, plan.rate, plan.seconds, app_id, plan.path)
        return run

    async def stop(self, app_id: str) -> LoadRun | None:
        run = self.runs.get(app_id)
        if run is not None and run.running and run.task is not None:
            run.stopped = True
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task
        return run

    async def close(self) -> None:
        for app_id in list(self.runs):
            await self.stop(app_id)

    async def _run(self, run: LoadRun, chain: str) -> None:
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
        headers = {"Host": self.app_host(run.app_id), "User-Agent": "crane-lab"}
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        pending: set[asyncio.Task[None]] = set()
        try:
            async with httpx.AsyncClient(
                base_url=self.router_url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
            ) as client:
                begin = time.monotonic()
                for due in send_times(run.plan.rate, run.plan.seconds):
                    await asyncio.sleep(max(0.0, begin + due - time.monotonic()))
                    run.sent += 1
                    if in_flight.locked():  # too many unanswered: this one is late, so it failed
                        run.answered(False, REQUEST_TIMEOUT_SECONDS * 1000)
                        continue
                    await in_flight.acquire()
                    task = asyncio.create_task(self._request(client, run, in_flight))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                if pending:
                    await asyncio.wait(pending, timeout=REQUEST_TIMEOUT_SECONDS + 1)
        finally:
            for task in pending:
                task.cancel()
            outcome = run.status().model_dump(include=set(LabLoadFinished.model_fields))
            finished = LabLoadFinished.model_validate(outcome)
            try:
                await asyncio.shield(self.announce(s.LAB_LOAD_FINISHED, finished, chain))
            except Exception:  # noqa: BLE001 - the run is over either way; the status says it all
                log.exception("lab: could not announce the end of %s", run.run_id)

    async def _request(self, client: httpx.AsyncClient, run: LoadRun, in_flight: asyncio.Semaphore) -> None:
        started = time.monotonic()
        try:
            response = await client.get(client.base_url.copy_with(raw_path=run.plan.path.encode()))
            ok = response.status_code < 400
        except httpx.HTTPError:
            ok = False
        finally:
            in_flight.release()
        run.answered(ok, (time.monotonic() - started) * 1000)
