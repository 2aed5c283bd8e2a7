"""The admission policy's verdict on a spec for its owner (rpc.AdmitRequest), and, when asked,
that verdict announced as policy.admission in the request's causal chain."""

from __future__ import annotations

import logging

from prometheus_client import Counter
from pydantic import ValidationError

from crane_shared import subjects as s
from crane_shared.appspec import AppSpec, AppStatus
from crane_shared.bus import Bus
from crane_shared.events import PolicyAdmission
from crane_shared.rpc import AdmitRequest, RpcError, Verdict
from crane_shared.store import AppStore
from crane_shared.users import UserStore

from .admission import ADMISSION_PACKAGE, admission_input
from .engine_choice import Engines
from .engines import PolicyError, verdict

log = logging.getLogger("crane.policy.admission")
ADMISSIONS = Counter("crane_admission_decisions_total", "Admission policy verdicts on app specs", ["verdict"])


class Admission:
    def __init__(
        self, bus: Bus, store: AppStore, users: UserStore, engines: Engines, default_cpus: float, default_memory: str
    ) -> None:
        self.bus, self.store, self.users, self.engines = bus, store, users, engines
        self.default_cpus, self.default_memory = default_cpus, default_memory

    async def admit(self, request: AdmitRequest) -> Verdict | RpcError:
        """May the owner run the spec? The app being changed does not count towards the owner's
        usage; a policy that cannot judge refuses (fail closed)."""
        try:
            spec = AppSpec.model_validate(request.spec)
        except ValidationError as exc:
            return RpcError(error=f"invalid spec: {exc.errors()[0]['msg']}")
        owner = request.owner
        others = [
            r.spec
            for r in await self.store.list()
            if r.owner == owner and r.id != request.app_id and r.status != AppStatus.DELETING
        ]
        policy_input = admission_input(
            await self.users.get(owner), owner, spec, others, self.default_cpus, self.default_memory
        )
        try:
            result = Verdict(**await verdict(await self.engines.current(), ADMISSION_PACKAGE, policy_input))
        except PolicyError as exc:
            result = Verdict(allowed=False, reasons=[f"the admission policy failed: {exc}"])
        log.info("admission of %s for %s: %s %s", spec.name, owner, result.allowed, result.reasons)
        ADMISSIONS.labels("allowed" if result.allowed else "refused").inc()
        if request.announce:
            announced = PolicyAdmission(app_id=request.announce, allowed=result.allowed, reasons=result.reasons)
            await self.bus.emit(s.POLICY_ADMISSION, announced, correlationid=request.correlationid)
        return result
