"""The scan policy's verdict on one image's scan report (rpc.ScanJudgeRequest)."""

from __future__ import annotations

from crane_shared.rpc import ScanJudgeRequest, Verdict

from .engine_choice import Engines
from .engines import PolicyError, verdict

SCAN_PACKAGE = "crane/scan"


class ScanVerdicts:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    async def judge(self, request: ScanJudgeRequest) -> Verdict:
        """Allowed, or the reasons not; a policy that cannot judge refuses, saying why."""
        try:
            return Verdict(**await verdict(await self.engines.current(), SCAN_PACKAGE, request.input))
        except PolicyError as exc:
            return Verdict(allowed=False, reasons=[f"the scan policy failed: {exc}"])
