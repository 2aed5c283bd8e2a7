"""Policy wiring: consume alert events, keep converging while load alerts fire, answer policy
checks and dry runs for the API, expose /metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from crane_shared import subjects as s
from crane_shared.alert_names import LOAD_ALERTS, LOW_LOAD, RESTART_ALERTS
from crane_shared.appspec import AppSpec, AppStatus
from crane_shared.bus import Bus
from crane_shared.correlation import chain_of, following
from crane_shared.events import Alert, Event, PolicyAdmission, describe_validation_error
from crane_shared.rpc import AdmitRequest
from crane_shared.service import (
    configure_logging,
    connect_service_bus,
    start_metrics_server,
    stop_on_signals,
    wait_or_stop,
)
from crane_shared.store import AppStore
from crane_shared.users import UserStore

from .admission import ADMISSION_PACKAGE, admission_input
from .decider import Decider, service_key
from .engines import OpaServer, PolicyEngine, PolicyError, verdict
from .guarded import GuardedRego
from .policy_store import NAME_PATTERN, PolicyStore, default_policies
from .prometheus import Prometheus
from .rego_errors import readable
from .sandbox import run_in_sandbox
from .scaling_memory import ScalingMemory
from .settings import PolicySettings

log = logging.getLogger("crane.policy")
DRY_RUN_PACKAGES = {"autoscale", "admission", "scan"}
SCAN_PACKAGE = "crane/scan"
ADMISSIONS = Counter("crane_admission_decisions_total", "Admission policy verdicts on app specs", ["verdict"])


@dataclass(frozen=True)
class LoadAlert:
    """A load alert that fires for a service, and the chain its notification began."""

    name: str
    chain: str


class PolicyService:
    def __init__(
        self,
        settings: PolicySettings,
        bus: Bus,
        store: AppStore,
        policies: PolicyStore,
        decider_kv: Any,
        users: UserStore,
    ):
        self.settings = settings
        self.bus = bus
        self.users = users
        self.policies = policies
        self.memory = ScalingMemory()
        self.decider = Decider(
            bus,
            store,
            Prometheus(settings.prometheus_url),
            self.engine,
            self.memory,
            decider_kv,
            settings.suite,
            settings.rate_window,
        )
        self.store = store
        # (app id, service) -> the load alert that fires for it, and the chain that alert began
        self.firing: dict[tuple[str, str | None], LoadAlert] = {}
        self.restarted: set[str] = set()  # alert episodes already acted on
        self._embedded: GuardedRego | None = None
        self._opa = OpaServer(settings.opa_url) if settings.opa_url else None
        self._pushed: dict[str, str] | None = None  # the policies OPA has

    async def engine(self) -> PolicyEngine:
        """Where live decisions are made: OPA (given the admin's current policies first), or
        the embedded engine with the admin's policies on a time budget (guarded.py)."""
        modules = await self.policies.modules()
        if self._opa:
            if self._pushed != modules:
                await self._opa.push(modules, previous=self._pushed or {})
                self._pushed = modules
            return self._opa
        if self._embedded is None or self._embedded.modules != modules:
            if self._embedded is not None:
                await self._embedded.close()
            self._embedded = GuardedRego(modules, default_policies(), self.settings.policy_budget_seconds)
        return self._embedded

    async def on_alert(self, event: Event, payload: BaseModel) -> None:
        assert isinstance(payload, Alert)
        if not payload.app_id:
            return
        firing = event.type == s.ALERT_FIRING
        if payload.alertname in RESTART_ALERTS and firing:
            episode = f"{payload.fingerprint}-{payload.starts_at}"
            if episode not in self.restarted:
                self.restarted.add(episode)
                await self.decider.evaluate(payload.app_id, payload.alertname)
        elif payload.alertname in LOAD_ALERTS:
            target = (payload.app_id, payload.service)
            if firing:
                if payload.alertname == LOW_LOAD and self._firing_name(target) != LOW_LOAD:
                    record = await self.store.get(payload.app_id)
                    service = record.spec.service(payload.service) if record else None
                    if service:
                        self.memory.low_load_began(service_key(*target), service.replicas)
                self.firing[target] = LoadAlert(payload.alertname, chain_of(event))
                await self.decider.evaluate(payload.app_id, payload.alertname, payload.service)
            elif self._firing_name(target) == payload.alertname:
                del self.firing[target]

    def _firing_name(self, target: tuple[str, str | None]) -> str | None:
        firing = self.firing.get(target)
        return firing.name if firing else None

    async def keep_converging(self, stop: asyncio.Event) -> None:
        """While a load alert fires, evaluate again every few seconds: a sustained load takes
        the service all the way to the replicas it needs, not one step per notification."""
        while not stop.is_set():
            for (app_id, service), alert in list(self.firing.items()):
                try:
                    with following(alert.chain):  # a step further along the alert's chain
                        decided = await self.decider.evaluate(app_id, alert.name, service)
                    if decided is None:
                        self.firing.pop((app_id, service), None)
                except Exception:  # noqa: BLE001 - one app must not stop the others
                    log.exception("evaluation of %s failed", service_key(app_id, service))
            await wait_or_stop(stop, self.settings.reevaluate_seconds)

    async def admit(self, body: dict[str, Any]) -> dict[str, Any]:
        """The admission policy's verdict (rpc.AdmitRequest) on a spec for its owner; the app
        being changed does not count towards the owner's usage."""
        try:
            request = AdmitRequest.model_validate(body)
        except ValidationError as exc:
            return {"error": f"invalid request: {describe_validation_error(exc)}"}
        try:
            spec = AppSpec.model_validate(request.spec)
        except ValidationError as exc:
            return {"error": f"invalid spec: {exc.errors()[0]['msg']}"}
        owner = request.owner
        others = [
            r.spec
            for r in await self.store.list()
            if r.owner == owner and r.id != request.app_id and r.status != AppStatus.DELETING
        ]
        policy_input = admission_input(
            await self.users.get(owner), owner, spec, others, self.settings.default_cpus, self.settings.default_memory
        )
        try:
            result = await verdict(await self.engine(), ADMISSION_PACKAGE, policy_input)
        except PolicyError as exc:  # fail closed: an app the policy cannot judge does not deploy
            result = {"allowed": False, "reasons": [f"the admission policy failed: {exc}"]}
        log.info("admission of %s for %s: %s %s", spec.name, owner, result["allowed"], result["reasons"])
        ADMISSIONS.labels("allowed" if result["allowed"] else "refused").inc()
        if request.announce:
            announced = PolicyAdmission(app_id=request.announce, allowed=result["allowed"], reasons=result["reasons"])
            await self.bus.emit(s.POLICY_ADMISSION, announced, correlationid=request.correlationid)
        return result

    async def judge_scan(self, body: dict[str, Any]) -> dict[str, Any]:
        """The scan policy's verdict on one image's scan report (``body['input']``)."""
        policy_input = body.get("input")
        if not isinstance(policy_input, dict):
            return {"error": "input must be the scan report's policy input (an object)"}
        try:
            return await verdict(await self.engine(), SCAN_PACKAGE, policy_input)
        except PolicyError as exc:  # fail closed, saying why
            return {"allowed": False, "reasons": [f"the scan policy failed: {exc}"]}

    async def check(self, body: dict[str, Any]) -> dict[str, Any]:
        """Compile the policy set with ``body['source']`` as module ``body['name']``."""
        name = str(body.get("name", ""))
        if not NAME_PATTERN.match(name):
            return {"ok": False, "error": f"invalid policy name {name!r}"}
        modules = {**await self.policies.modules(), name: str(body.get("source", ""))}
        answer = await run_in_sandbox(modules, None)
        if not answer.get("ok") and isinstance(answer.get("error"), str):
            answer["error"] = readable(answer["error"], modules)
        return answer

    async def shipped(self, body: dict[str, Any]) -> dict[str, Any]:
        """The source CRANE ships for the policy ``body['name']`` (policies/*.rego)."""
        name, shipped = str(body.get("name", "")), default_policies()
        if name not in shipped:
            return {"error": f"CRANE ships no policy named {name!r}; it ships {', '.join(sorted(shipped))}"}
        return {"source": shipped[name]}

    async def dry_run(self, body: dict[str, Any]) -> dict[str, Any]:
        """Evaluate data.crane.<package>.decision for ``body['input']``, with ``body['source']``
        in place of the policy ``body['name']`` if given."""
        modules = dict(await self.policies.modules())
        if body.get("source") is not None:
            modules[str(body.get("name") or "dry-run")] = str(body["source"])
        package = str(body.get("package") or "autoscale")
        if package not in DRY_RUN_PACKAGES:
            return {"ok": False, "error": f"package must be one of {sorted(DRY_RUN_PACKAGES)}"}
        return await run_in_sandbox(modules, body.get("input") or {}, f"data.crane.{package}.decision")


async def serve(settings: PolicySettings) -> None:
    stop = stop_on_signals()
    start_metrics_server(settings.metrics_port)
    bus = await connect_service_bus(settings, "policy")
    policies = PolicyStore(await bus.kv(s.POLICIES_BUCKET))
    await policies.seed_defaults()
    service = PolicyService(
        settings,
        bus,
        AppStore(await bus.kv(s.APPS_BUCKET)),
        policies,
        await bus.kv(s.DECISIONS_BUCKET),
        UserStore(await bus.kv(s.USERS_BUCKET), await bus.kv(s.CONFIG_BUCKET)),
    )
    await bus.serve(s.RPC_POLICY_CHECK, service.check)
    await bus.serve(s.RPC_POLICY_EVALUATE, service.dry_run)
    await bus.serve(s.RPC_POLICY_SHIPPED, service.shipped)
    await bus.serve(s.RPC_POLICY_ADMIT, service.admit)
    await bus.serve(s.RPC_POLICY_SCAN, service.judge_scan)
    handlers = {s.ALERT_FIRING: service.on_alert, s.ALERT_RESOLVED: service.on_alert}
    tasks = [
        asyncio.create_task(bus.consume("policy", "alert.>", handlers, stop)),
        asyncio.create_task(service.keep_converging(stop)),
    ]
    log.info("policy ready (engine: %s)", "opa " + settings.opa_url if settings.opa_url else "regopy")
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    await bus.close()


def run() -> None:
    settings = PolicySettings()
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
