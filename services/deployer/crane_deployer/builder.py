"""Builds from source: a service with ``build`` runs the image CRANE builds from its uploaded
context (read from the object store, checked and unpacked in a scratch directory of its own,
built by the Engine with .dockerignore, build args and target honoured).

The image is tagged by the build's inputs (context digest, Dockerfile, args, target), so an
unchanged context is never built again. Every build is told on the bus (build.started,
build.progress, build.completed or build.failed) and kept with its log in the builds bucket.
A failed build fails the app with the builder's error; replicas of the previous version keep
running, because builds happen before any replica is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore
from prometheus_client import Counter

from crane_shared import subjects as s
from crane_shared.appspec import AppRecord
from crane_shared.build_context import ContextError, ContextLimits, inspect_context, unpack_context
from crane_shared.builds import AppBuilds, BuildRecord, builds_key
from crane_shared.bus import Bus
from crane_shared.events import BuildCompleted, BuildFailed, BuildProgress, BuildStarted
from crane_shared.image_refs import dockerfile_problems
from crane_shared.servicespec import BuildSpec, ServiceSpec

from .engine import Engine, EngineError

log = logging.getLogger("crane.deployer.builder")
BUILDS = Counter("crane_builds_total", "Image builds from uploaded contexts, by outcome", ["outcome"])
PROGRESS_EVERY_SECONDS = 0.5
PROGRESS_MAX_LINES = 50
# A build that failed is not tried again with the same inputs for this long (a reconcile comes
# every few seconds; the same inputs fail the same way).
RETRY_FAILED_SECONDS = 60.0


MAX_DOCKERFILE_BYTES = 1024 * 1024


def refuse_foreign_bases(context: Path, build: BuildSpec) -> None:
    """ContextError when the Dockerfile builds on, or copies from, an image a tenant may not
    name (another tenant's build, an image id, CRANE's own images: image_refs.py)."""
    path = context / build.dockerfile
    if not path.is_file():
        return  # the Engine says it is missing, in its words
    if path.stat().st_size > MAX_DOCKERFILE_BYTES:
        raise ContextError(f"{build.dockerfile} is larger than {MAX_DOCKERFILE_BYTES} bytes")
    problems = dockerfile_problems(path.read_text(errors="replace"), build.args)
    if problems:
        raise ContextError("; ".join(problems))


class Builder:
    def __init__(
        self,
        bus: Bus,
        engine: Engine,
        contexts: Callable[[], Awaitable[ObjectStore]],
        builds: KeyValue,
        limits: ContextLimits,
        scratch: Path | None = None,
    ) -> None:
        self.bus = bus
        self.engine = engine
        self.contexts = contexts
        self.builds = builds
        self.limits = limits
        self.scratch = scratch
        self._failed: dict[str, tuple[float, str]] = {}  # image tag -> (when, error)
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure_images(self, record: AppRecord) -> None:
        """Build every image the app's running services need and do not have yet."""
        for service in record.spec.services:
            if service.build is not None and record.desired(service) > 0:
                await self.ensure_image(record, service)

    async def ensure_image(self, record: AppRecord, service: ServiceSpec) -> str:
        tag = self.engine.naming.image(record.id, service)
        async with self._locks.setdefault(tag, asyncio.Lock()):
            if await self.engine.has_image(tag):
                return tag
            failed = self._failed.get(tag)
            if failed and time.monotonic() - failed[0] < RETRY_FAILED_SECONDS:
                raise EngineError(failed[1])
            await self._build(record, service, tag)
            return tag

    async def _build(self, record: AppRecord, service: ServiceSpec, tag: str) -> None:
        assert service.build is not None
        build = BuildRecord(
            id=f"b-{uuid.uuid4().hex[:12]}",
            app_id=record.id,
            service=service.name,
            context=service.build.context,
            image=tag,
        )
        await self._keep(build)
        await self.bus.emit(
            s.BUILD_STARTED,
            BuildStarted(app_id=record.id, service=service.name, build_id=build.id, context=build.context, image=tag),
        )
        log.info("%s: building %s from context %s", record.id, tag, build.context[:12])
        lines: list[str] = []
        try:
            data = await self._context(service.build.context)
            with tempfile.TemporaryDirectory(prefix="crane-build-", dir=self.scratch) as scratch:
                context_dir = Path(scratch, "context")
                context_dir.mkdir()
                unpacked = await asyncio.to_thread(unpack_context, data, context_dir, self.limits)
                if unpacked.digest != service.build.context:  # the store holds what was asked for, or nothing
                    raise ContextError(f"context {service.build.context[:12]} does not hold what it was uploaded as")
                refuse_foreign_bases(context_dir, service.build)
                await self._run_build(record, service, build, context_dir, tag, lines)
        except (ContextError, EngineError) as exc:
            error = f"build of {service.name} failed: {exc}"
            self._failed[tag] = (time.monotonic(), error)
            BUILDS.labels("failed").inc()
            await self._keep(build.finished("failed", "\n".join(lines), str(exc)))
            await self.bus.emit(
                s.BUILD_FAILED, BuildFailed(app_id=record.id, service=service.name, build_id=build.id, error=str(exc))
            )
            raise EngineError(error) from exc
        finished = build.finished("succeeded", "\n".join(lines))
        BUILDS.labels("built").inc()
        self._failed.pop(tag, None)
        await self._keep(finished)
        await self.bus.emit(
            s.BUILD_COMPLETED,
            BuildCompleted(
                app_id=record.id,
                service=service.name,
                build_id=build.id,
                image=tag,
                cached=False,
                seconds=finished.seconds or 0.0,
            ),
        )

    async def context_bytes(self, digest: str) -> bytes:
        """An uploaded tar (a context, or a folder's content), checked: safe to unpack, and
        holding the content its digest names."""
        try:
            data = await self._context(digest)
            if (await asyncio.to_thread(inspect_context, data, self.limits)).digest != digest:
                raise ContextError(f"upload {digest[:12]} does not hold what it was uploaded as")
        except ContextError as exc:
            raise EngineError(str(exc)) from exc
        return data

    async def _context(self, digest: str) -> bytes:
        try:
            result = await (await self.contexts()).get(digest)
        except (NotFoundError, KeyNotFoundError) as exc:
            raise ContextError(f"context {digest[:12]} was not uploaded (or was removed)") from exc
        return bytes(result.data or b"")

    async def _run_build(
        self, record: AppRecord, service: ServiceSpec, build: BuildRecord, context: Path, tag: str, lines: list[str]
    ) -> None:
        """Build, telling the output as build.progress a few lines at a time."""
        assert service.build is not None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def on_line(line: str) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, line)

        async def tell() -> None:
            pending: list[str] = []
            last = time.monotonic()
            while True:
                try:
                    line = await asyncio.wait_for(queue.get(), timeout=PROGRESS_EVERY_SECONDS)
                except TimeoutError:
                    line = ""
                if line:
                    lines.append(line)
                    pending.append(line)
                done = line is None
                if pending and (
                    done or len(pending) >= PROGRESS_MAX_LINES or time.monotonic() - last >= PROGRESS_EVERY_SECONDS
                ):
                    progress = BuildProgress(app_id=record.id, service=service.name, build_id=build.id, lines=pending)
                    with contextlib.suppress(Exception):  # progress is best effort; the log is kept anyway
                        await self.bus.emit(s.BUILD_PROGRESS, progress)
                    pending, last = [], time.monotonic()
                if done:
                    return

        teller = asyncio.create_task(tell())
        try:
            labels = self.engine.naming.app_labels(record.id, record.owner)
            await self.engine.build(context, tag, service.build, labels, on_line)
        finally:
            queue.put_nowait(None)
            await teller

    async def _keep(self, build: BuildRecord) -> None:
        key = builds_key(build.app_id)
        for _ in range(10):
            try:
                entry = await self.builds.get(key)
                current, revision = AppBuilds.model_validate_json(entry.value or b"{}"), entry.revision
            except KeyNotFoundError:
                current, revision = AppBuilds(), 0
            value = current.with_build(build).model_dump_json().encode()
            try:
                if revision:
                    await self.builds.update(key, value, last=revision)
                else:
                    await self.builds.create(key, value)
                return
            except KeyWrongLastSequenceError:  # changed meanwhile: read again
                await asyncio.sleep(0.01)

    async def forget(self, app_id: str) -> None:
        with contextlib.suppress(KeyNotFoundError):
            await self.builds.purge(builds_key(app_id))
