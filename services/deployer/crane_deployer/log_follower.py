"""Live logs (the deployer's side of live_logs.py): each follow watches an app's replicas, reads
every replica's output in a thread (the Engine's log stream blocks), and publishes the lines in
batches to ``logs.<stream>`` until the replicas are done (no ``follow``), the API stops renewing
the lease, or it says stop. Replicas that start later are picked up on the next look; a
replica that restarts goes on from the last line sent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Gauge

from crane_shared.live_logs import (
    LEASE_SECONDS,
    MAX_BATCH_LINES,
    FollowAnswer,
    FollowRequest,
    LeaseRequest,
    LineSplitter,
    LogBatch,
    LogLine,
    logs_subject,
)

from .engine import Engine
from .plan import Replica

log = logging.getLogger("crane.deployer.logs")
FOLLOWING = Gauge("crane_log_follows", "Live log streams the deployer is sending")

MAX_FOLLOWS = 64  # at once, over all apps: each holds a thread per replica
LOOK_SECONDS = 1.0  # how often a follow looks for replicas that started
FLUSH_SECONDS = 0.1  # lines wait at most this long before they are sent

Publish = Callable[[str, bytes], Awaitable[None]]


@dataclass
class _Follow:
    request: FollowRequest
    until: float
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class LogFollowers:
    def __init__(self, engine: Engine, publish: Publish, lease_seconds: float = LEASE_SECONDS) -> None:
        self.engine = engine
        self.publish = publish
        self.lease_seconds = lease_seconds
        self._follows: dict[str, _Follow] = {}

    async def start(self, request: FollowRequest) -> FollowAnswer:
        if request.stream in self._follows:
            return FollowAnswer(following=True)
        if len(self._follows) >= MAX_FOLLOWS:
            raise RuntimeError(f"{MAX_FOLLOWS} logs are being followed already; try again later")
        follow = _Follow(request, time.monotonic() + self.lease_seconds)
        self._follows[request.stream] = follow
        FOLLOWING.set(len(self._follows))
        follow.task = asyncio.create_task(self._run(follow))
        return FollowAnswer(following=True)

    async def lease(self, request: LeaseRequest) -> FollowAnswer:
        follow = self._follows.get(request.stream)
        if follow is None:
            return FollowAnswer(following=False)
        if request.stop:
            follow.stop.set()
            return FollowAnswer(following=False)
        follow.until = time.monotonic() + self.lease_seconds
        return FollowAnswer(following=True)

    async def close(self) -> None:
        for follow in list(self._follows.values()):
            follow.stop.set()
        await asyncio.gather(*(f.task for f in list(self._follows.values()) if f.task), return_exceptions=True)

    async def _run(self, follow: _Follow) -> None:
        request = follow.request
        reading = _Readers(self.engine, request, asyncio.get_running_loop())
        end = "done"
        try:
            first = True
            while True:
                replicas = await self.engine.observe(request.app_id)
                reading.look(replicas, first=first)
                first = False
                if not request.follow and reading.idle():
                    break
                if follow.stop.is_set():
                    end = "stopped"
                    break
                if time.monotonic() > follow.until:
                    end = "lease expired"
                    break
                await self._send(request.stream, await reading.lines(LOOK_SECONDS))
            await asyncio.sleep(0)  # lines the finished threads handed over run into the queue first
            await self._send(request.stream, reading.drain())
        except Exception as exc:  # noqa: BLE001 - the stream ends with the reason, the deployer goes on
            log.warning("following logs of %s failed: %r", request.app_id, exc)
            end = f"failed: {exc}"
        finally:
            reading.close()
            self._follows.pop(request.stream, None)
            FOLLOWING.set(len(self._follows))
            with contextlib.suppress(Exception):
                await self.publish(logs_subject(request.stream), LogBatch(end=end).model_dump_json().encode())

    async def _send(self, stream: str, lines: list[LogLine]) -> None:
        for start in range(0, len(lines), MAX_BATCH_LINES):
            batch = LogBatch(lines=lines[start : start + MAX_BATCH_LINES])
            await self.publish(logs_subject(stream), batch.model_dump_json().encode())


class _Readers:
    """One reading thread per replica; their lines meet in one queue."""

    def __init__(self, engine: Engine, request: FollowRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.request = request
        self.loop = loop
        self.began = time.time()
        self.queue: asyncio.Queue[LogLine] = asyncio.Queue()
        self._streams: dict[str, Any] = {}  # container id -> the Engine's open stream
        self._threads: dict[str, threading.Thread] = {}
        self._splitters: dict[str, LineSplitter] = {}
        self._closed = False

    def look(self, replicas: list[Replica], *, first: bool) -> None:
        for replica in replicas:
            if self.request.service and replica.service != self.request.service:
                continue
            reading = self._threads.get(replica.container_id)
            if reading is not None and reading.is_alive():
                continue
            seen_before = replica.container_id in self._splitters
            if seen_before and (not self.request.follow or replica.state != "running"):
                continue  # read to its end already; a stopped replica says nothing new
            if not first and not seen_before and replica.state != "running" and self.request.follow:
                continue  # picked up when it runs
            self._open(replica, first=first and not seen_before)

    def _open(self, replica: Replica, *, first: bool) -> None:
        splitter = self._splitters.setdefault(replica.container_id, LineSplitter(replica.name, replica.service))
        if first:
            tail: int | str = self.request.tail
            since = None
        else:  # started (or restarted) after the follow began: everything since what was sent
            tail, since = "all", _after(splitter.last_time) or self.began
        thread = threading.Thread(
            target=self._read, args=(replica.container_id, splitter, tail, since), daemon=True,
            name=f"logs-{replica.name}",
        )  # fmt: skip
        self._threads[replica.container_id] = thread
        thread.start()

    def _read(self, container_id: str, splitter: LineSplitter, tail: int | str, since: float | None) -> None:
        try:
            if tail == 0 and since is None:
                if not self.request.follow:
                    return
                since = time.time()  # no history: only what comes
                tail = "all"
            stream = self.engine.open_log_stream(container_id, tail=tail, since=since, follow=self.request.follow)
            self._streams[container_id] = stream
            if self._closed:
                stream.close()
                return
            for chunk in stream:
                self._put(splitter.feed(chunk))
        except Exception as exc:  # noqa: BLE001 - a replica removed mid-read just ends its part
            log.debug("log stream of %s ended: %r", container_id[:12], exc)
        finally:
            self._put(splitter.flush())
            self._streams.pop(container_id, None)

    def _put(self, lines: list[LogLine]) -> None:
        for line in lines:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody listens any more
                self.loop.call_soon_threadsafe(self.queue.put_nowait, line)

    def idle(self) -> bool:
        return all(not t.is_alive() for t in self._threads.values())

    async def lines(self, wait: float) -> list[LogLine]:
        """What arrived within ``wait`` seconds (sent early once a batch is full)."""
        out: list[LogLine] = []
        deadline = time.monotonic() + wait
        while len(out) < MAX_BATCH_LINES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                out.append(await asyncio.wait_for(self.queue.get(), timeout=min(remaining, FLUSH_SECONDS)))
            except TimeoutError:
                if out:
                    break
        return out + self.drain()

    def drain(self) -> list[LogLine]:
        out = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out

    def close(self) -> None:
        self._closed = True
        for stream in list(self._streams.values()):
            with contextlib.suppress(Exception):
                stream.close()


def _after(stamp: str | None) -> float | None:
    """The Engine's RFC 3339 timestamp as Unix seconds, a microsecond past it: where a replica
    that restarted goes on without repeating the line sent last."""
    if not stamp:
        return None
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole + "+00:00").timestamp()
    return seconds + float(f"0.{fraction or '0'}") + 1e-6
