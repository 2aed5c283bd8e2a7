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
import threading
import time
import uuid
from collections import deque
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
from crane_shared.storage import Storage

from .build_box import BuildBox, BuildError, BuildStop, run_build
from .engine import Engine
from .runtime import EngineError

log = logging.getLogger("crane.deployer.builder")
BUILDS = Counter("crane_builds_total", "Image builds from uploaded contexts, by outcome", ["outcome"])
PROGRESS_EVERY_SECONDS = 0.5
PROGRESS_MAX_LINES = 50
KEPT_LINES = 2000  # of a build's output, for its log (whose end is kept: MAX_LOG_CHARS)
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


class BuildOutput:
    """A build's output lines as they come from the Engine's thread: the last KEPT_LINES for the
    log, and the lines not told yet (at most PROGRESS_MAX_LINES; a build that prints faster has
    the rest counted, not kept), so an endless printer costs bounded memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: deque[str] = deque(maxlen=KEPT_LINES)
        self._pending: list[str] = []
        self._skipped = 0

    def add(self, line: str) -> None:
        with self._lock:
            self._kept.append(line)
            if len(self._pending) < PROGRESS_MAX_LINES:
                self._pending.append(line)
            else:
                self._skipped += 1

    def take(self) -> list[str]:
        """The lines to tell now (a count of those left out comes last)."""
        with self._lock:
            lines, skipped = self._pending, self._skipped
            self._pending, self._skipped = [], 0
        return [*lines, f"... {skipped} more lines (the build log keeps its end)"] if skipped else lines

    @property
    def log(self) -> str:
        with self._lock:
            return "\n".join(self._kept)


class Builder:
    """Builds run beside the reconcile workers, never on them: a reconcile asks for an image
    (``request``) and goes on; the build waits for one of its owner's slots, runs in its box
    (build_box.py) and, built or failed, asks for the app to be reconciled again."""

    def __init__(
        self,
        bus: Bus,
        engine: Engine,
        contexts: Callable[[], Awaitable[ObjectStore]],
        builds: KeyValue,
        limits: ContextLimits,
        scratch: Path | None = None,
        box: BuildBox | None = None,
        per_owner: int = 2,
        storage: Storage | None = None,
        storage_quota: Callable[[str], Awaitable[int]] | None = None,
    ) -> None:
        self.bus = bus
        self.engine = engine
        self.contexts = contexts
        self.builds = builds
        self.limits = limits
        self.scratch = scratch
        self.box = box or BuildBox()
        self.per_owner = per_owner
        # Who owns each context (a build uses one only for its app's owner), and what each
        # owner's built images may take (None: not checked).
        self.storage = storage
        self.storage_quota = storage_quota
        self._failed: dict[str, tuple[float, str]] = {}  # image tag -> (when, error)
        self._running: dict[str, asyncio.Task[None]] = {}  # image tag -> its build
        self._slots: dict[str, asyncio.Semaphore] = {}  # owner -> their builds at once
        # How to ask for another reconcile of an app once its build ended (the deployer's queue).
        self.finished: Callable[[str], None] = lambda app_id: None

    def request(self, record: AppRecord, service: ServiceSpec) -> None:
        """Have the service's image built, in the background, unless it is being built; raises
        EngineError when a build of the same inputs failed within RETRY_FAILED_SECONDS."""
        tag = self.engine.naming.image(record.id, service)
        if tag in self._running:
            return
        failed = self._failed.get(tag)
        if failed and time.monotonic() - failed[0] < RETRY_FAILED_SECONDS:
            raise EngineError(failed[1])
        task = asyncio.create_task(self._build_in_turn(record, service, tag), name=f"build {tag}")
        self._running[tag] = task

        def done(_: asyncio.Task[None]) -> None:
            self._running.pop(tag, None)
            self.finished(record.id)

        task.add_done_callback(done)

    async def _build_in_turn(self, record: AppRecord, service: ServiceSpec, tag: str) -> None:
        async with self._slots.setdefault(record.owner, asyncio.Semaphore(self.per_owner)):
            if await self.engine.has_image(tag):
                return
            with contextlib.suppress(EngineError):  # kept in _failed: the next reconcile says it
                await self._build(record, service, tag)

    async def _within_build_cache(self, owner: str) -> None:
        if self.storage is None or self.storage_quota is None:
            return
        used, quota = (await self.storage.usage(owner)).build_cache_bytes, await self.storage_quota(owner)
        if used > quota:
            raise BuildError(
                f"your apps' built images take {used} bytes, past your storage quota of {quota} bytes "
                "(delete apps you no longer need)"
            )

    async def count_build_cache(self, owner: str) -> None:
        if self.storage is not None:
            with contextlib.suppress(EngineError):
                await self.storage.set_build_cache(owner, await self.engine.built_image_bytes(owner))

    async def stop(self) -> None:
        """End the builds in progress (their Engine builds stop with their connections)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
        output = BuildOutput()
        try:
            await self._within_build_cache(record.owner)
            data = await self._context(service.build.context, record.owner)
            with tempfile.TemporaryDirectory(prefix="crane-build-", dir=self.scratch) as scratch:
                context_dir = Path(scratch, "context")
                context_dir.mkdir()
                unpacked = await asyncio.to_thread(unpack_context, data, context_dir, self.limits)
                if unpacked.digest != service.build.context:  # the store holds what was asked for, or nothing
                    raise ContextError(f"context {service.build.context[:12]} does not hold what it was uploaded as")
                refuse_foreign_bases(context_dir, service.build)
                await self._run_build(record, service, build, context_dir, tag, output)
        except Exception as exc:  # noqa: BLE001 - whatever ended it, the build failed and says why
            if not isinstance(exc, ContextError | EngineError | BuildError):
                log.exception("%s: the build of %s broke", record.id, tag)
            error = f"build of {service.name} failed: {exc}"
            self._failed[tag] = (time.monotonic(), error)
            BUILDS.labels("failed").inc()
            await self._keep(build.finished("failed", output.log, str(exc)))
            await self.bus.emit(
                s.BUILD_FAILED, BuildFailed(app_id=record.id, service=service.name, build_id=build.id, error=str(exc))
            )
            raise EngineError(error) from exc
        finished = build.finished("succeeded", output.log)
        BUILDS.labels("built").inc()
        await self.count_build_cache(record.owner)
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

    async def context_bytes(self, digest: str, owner: str) -> bytes:
        """An uploaded tar (a context, or a folder's content) of ``owner``'s, checked: safe to
        unpack, and holding the content its digest names."""
        try:
            data = await self._context(digest, owner)
            if (await asyncio.to_thread(inspect_context, data, self.limits)).digest != digest:
                raise ContextError(f"upload {digest[:12]} does not hold what it was uploaded as")
        except ContextError as exc:
            raise EngineError(str(exc)) from exc
        return data

    async def _context(self, digest: str, owner: str) -> bytes:
        if self.storage and not await self.storage.owns("context", digest, owner):
            # A digest is the content's, which anyone with the same files can compute: only what
            # the app's owner uploaded is theirs to build or mount.
            raise ContextError(f"context {digest[:12]} was not uploaded by the app's owner: upload it with the app")
        try:
            result = await (await self.contexts()).get(digest)
        except (NotFoundError, KeyNotFoundError) as exc:
            raise ContextError(f"context {digest[:12]} was not uploaded (or was removed)") from exc
        return bytes(result.data or b"")

    async def _run_build(
        self, record: AppRecord, service: ServiceSpec, build: BuildRecord, context: Path, tag: str, output: BuildOutput
    ) -> None:
        """Build in the box, telling the output as build.progress every PROGRESS_EVERY_SECONDS."""
        assert service.build is not None
        labels = self.engine.naming.app_labels(record.id, record.owner)

        async def tell() -> None:
            lines = output.take()
            if lines:
                progress = BuildProgress(app_id=record.id, service=service.name, build_id=build.id, lines=lines)
                with contextlib.suppress(Exception):  # progress is best effort; the log is kept anyway
                    await self.bus.emit(s.BUILD_PROGRESS, progress)

        stop = BuildStop()
        running = asyncio.create_task(
            asyncio.to_thread(
                run_build, self.engine.api, context, tag, service.build, labels, self.box, output.add, stop
            )
        )
        try:
            while not running.done():
                await asyncio.wait({running}, timeout=PROGRESS_EVERY_SECONDS)
                await tell()
            running.result()
        finally:
            if not running.done():  # cancelled (the deployer stops): the Engine's build ends with its connection
                stop.ask("the deployer stopped during the build")

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
