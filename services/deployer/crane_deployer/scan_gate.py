"""The scan gate: before an app's image runs, it is scanned (once per image digest, cached in
the scans bucket), the scan policy judges the report, the verdict is kept on the app and sent
as scan.completed, and a blocked image stops the deploy with the policy's reasons."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from prometheus_client import Counter

from crane_shared import subjects as s
from crane_shared.appspec import AppRecord
from crane_shared.bus import Bus
from crane_shared.events import MAX_EVENT_FINDINGS, ScanCompleted
from crane_shared.scan import AppScan, ImageVerdict, ScanReport, app_key, digest_key

from .runtime import EngineError
from .trivy import Trivy

log = logging.getLogger("crane.deployer.scan")
SCANS = Counter("crane_image_scans_total", "Image scans, by how the report was had", ["source"])
VERDICTS = Counter("crane_image_scan_verdicts_total", "Scan policy verdicts on images to deploy", ["verdict"])

AskPolicy = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ScanBlocked(EngineError):
    """The scan policy refused an image; the message gives its reasons."""


class ScanPending(RuntimeError):
    """The verdict cannot be had yet (the policy service does not answer): try again shortly."""


class ScanGate:
    def __init__(
        self, bus: Bus, kv: KeyValue, trivy: Trivy, image_digest: Callable[[str], Awaitable[str]], ask: AskPolicy
    ) -> None:
        self.bus = bus
        self.kv = kv
        self.trivy = trivy
        self.image_digest = image_digest
        self.ask = ask
        self._locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(2)  # scans at once

    async def check(self, record: AppRecord, images: list[str]) -> None:
        """Return when every image of the app (``images``: those its replicas run) may run;
        raise ScanBlocked or ScanPending if not."""
        for image in dict.fromkeys(images):
            digest = await self.image_digest(image)
            report, cached = await self._report(image, digest)
            verdict = await self._judge(report, cached)
            await self._remember(record.id, image, verdict)
            if not verdict.allowed:
                raise ScanBlocked("blocked by the image scan policy: " + "; ".join(verdict.reasons))

    async def _report(self, image: str, digest: str) -> tuple[ScanReport, bool]:
        lock = self._locks.setdefault(digest, asyncio.Lock())
        async with lock:  # apps sharing an image wait for one scan
            try:
                entry = await self.kv.get(digest_key(digest))
                if entry.value:
                    cached = ScanReport.model_validate_json(entry.value)
                    if cached.current_for(self.trivy.db_status()):
                        SCANS.labels("cached").inc()
                        return cached, True
                    log.info(
                        "%s: scanned with %s; the database changed: scanning again", image, cached.vulnerability_db
                    )
            except KeyNotFoundError:
                pass
            async with self._slots:
                log.info("scanning %s (%s)", image, digest[:19])
                report = await self.trivy.scan(image, digest)
            log.info("scanned %s: %s", image, report.counts if report.scanned else report.error)
            SCANS.labels("trivy" if report.scanned else "failed").inc()
            if report.scanned:  # a failed scan is tried again next time
                await self.kv.put(digest_key(digest), report.model_dump_json().encode())
            return report, False

    async def _judge(self, report: ScanReport, cached: bool) -> ImageVerdict:
        try:
            answer = await self.ask(report.policy_input())
        except Exception as exc:  # noqa: BLE001 - no answer (timeout, no responders): not a verdict
            raise ScanPending(f"the scan policy did not answer: {exc!r}") from None
        if "error" in answer:
            raise ScanPending(f"the scan policy failed: {answer['error']}")
        VERDICTS.labels("allowed" if answer["allowed"] else "blocked").inc()
        return ImageVerdict(report=report, allowed=bool(answer["allowed"]), reasons=answer["reasons"], cached=cached)

    async def _remember(self, app_id: str, image: str, verdict: ImageVerdict) -> None:
        """Keep the verdict on the app; send scan.completed when it is new for the app."""
        try:
            entry = await self.kv.get(app_key(app_id))
            current = AppScan.model_validate_json(entry.value or b"{}")
        except KeyNotFoundError:
            current = AppScan(app_id=app_id)
        known = current.images.get(image)
        if (
            known
            and known.report.digest == verdict.report.digest
            and (known.allowed, known.reasons) == (verdict.allowed, verdict.reasons)
        ):
            return
        current.images[image] = verdict
        await self.kv.put(app_key(app_id), current.model_dump_json().encode())
        report = verdict.report
        event = ScanCompleted(
            app_id=app_id,
            image=image,
            digest=report.digest,
            scanner=report.scanner,
            vulnerability_db=report.vulnerability_db,
            scanned=report.scanned,
            cached=verdict.cached,
            counts={kind: dict(counts) for kind, counts in report.counts.items()},
            findings=report.findings[:MAX_EVENT_FINDINGS],
            allowed=verdict.allowed,
            reasons=verdict.reasons,
        )
        await self.bus.emit(s.SCAN_COMPLETED, event)

    async def forget(self, app_id: str) -> None:
        await self.kv.purge(app_key(app_id))
