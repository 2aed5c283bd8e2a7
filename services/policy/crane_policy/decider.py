"""Turn an alert into a decision and the decision into an intent: read the app, measure it
with the same PromQL its alert uses, ask the Rego policy, publish app.updated (scale) or
app.restart_requested, and record a policy.decision with every input and the outcome."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter

from crane_shared import subjects as s
from crane_shared.alert_names import LOAD_ALERTS, RESTART_ALERTS
from crane_shared.app_metrics import metric_query
from crane_shared.appspec import AppRecord, AppStatus
from crane_shared.bus import Bus
from crane_shared.events import AppRestartRequested, AppUpdated, PolicyDecision
from crane_shared.monitoring_state import DecisionLog
from crane_shared.servicespec import ServiceSpec
from crane_shared.store import AppStore

from .engines import PolicyEngine, PolicyError, autoscale_decision
from .prometheus import Prometheus, PrometheusError
from .scaling_memory import ScalingMemory

log = logging.getLogger("crane.policy.decider")
DECISIONS = Counter("crane_policy_decisions_total", "Decisions made by the policy", ["action", "outcome"])


def service_key(app_id: str, service: str | None) -> str:
    """How the policy names one service of an app in what it remembers: ``<app>/<service>``."""
    return f"{app_id}/{service or ''}"


def _none(service: ServiceSpec, reason: str) -> dict[str, Any]:
    return {"action": "none", "desired": service.replicas, "reason": reason}


class Decider:
    def __init__(
        self,
        bus: Bus,
        store: AppStore,
        prometheus: Prometheus,
        engine: Callable[[], Awaitable[PolicyEngine]],
        memory: ScalingMemory,
        decisions: DecisionLog,
        suite: str,
        rate_window: str,
    ) -> None:
        self.bus = bus
        self.store = store
        self.prometheus = prometheus
        self.engine = engine
        self.memory = memory
        self.decisions = decisions
        self.suite = suite
        self.rate_window = rate_window
        self._last_reason: dict[str, str] = {}

    async def evaluate(self, app_id: str, alert: str, service_name: str | None = None) -> PolicyDecision | None:
        """Decide about ``alert`` for one service of an app (None: its primary service)."""
        record = await self.store.get(app_id)
        service = record.spec.service(service_name) if record else None
        key = service_key(app_id, service_name)
        if record is None or service is None or record.desired_state != "running":
            self.memory.forget(key)
            return None
        if alert in RESTART_ALERTS and record.status == AppStatus.FAILED:
            # A crash loop or a missing image: replacing the replicas again would not help.
            reason = f"no restart: the app has failed ({record.reason})"
            return await self._record(record, service, alert, None, _none(service, reason))
        value = 0.0
        if alert in LOAD_ALERTS:
            if not service.autoscaling.enabled:
                return await self._record(
                    record, service, alert, None, _none(service, f"autoscaling is disabled for {service.name}")
                )
            try:
                measured = await self.prometheus.value(
                    metric_query(self.suite, app_id, service, window=self.rate_window)
                )
            except PrometheusError as exc:
                return await self._record(record, service, alert, None, _none(service, str(exc)))
            value = measured if measured is not None else 0.0
        policy_input = self.memory.policy_input(key, service, alert, value)
        engine = await self.engine()
        try:
            decision = await autoscale_decision(engine, policy_input)
        except PolicyError as exc:
            decision = _none(service, f"policy error: {exc}")
        self.memory.remember(key, decision)
        return await self._record(
            record, service, alert, value if alert in LOAD_ALERTS else None, decision, engine.name
        )

    async def _record(
        self,
        record: AppRecord,
        service: ServiceSpec,
        alert: str,
        value: float | None,
        decision: dict[str, Any],
        engine: str = "-",
    ) -> PolicyDecision:
        action = decision.get("action", "none")
        desired = int(decision.get("desired", service.replicas))
        applied = await self._act(record, service, action, desired)
        outcome = PolicyDecision(
            app_id=record.id,
            service=service.name,
            alert=alert,
            action=action if action in ("scale_up", "scale_down", "restart") else "none",
            reason=str(decision.get("reason", "")),
            metric=service.autoscaling.metric if value is not None else None,
            value=value,
            target=service.autoscaling.target_value if value is not None else None,
            current_replicas=service.replicas,
            desired_replicas=desired,
            policy="autoscale",
            engine=engine,
            outcome="applied" if applied else "skipped",
        )
        DECISIONS.labels(outcome.action, outcome.outcome).inc()
        # Every action is published; a "none" only when its reason changes, not every second.
        key = service_key(record.id, service.name)
        if outcome.action != "none" or self._last_reason.get(key) != outcome.reason:
            self._last_reason[key] = outcome.reason
            await self.bus.emit(s.POLICY_DECISION, outcome)
            await self.decisions.add(outcome)
            log.info("%s: %s (%s) %s", key, outcome.action, outcome.outcome, outcome.reason)
        return outcome

    async def _act(self, record: AppRecord, service: ServiceSpec, action: str, desired: int) -> bool:
        if action in ("scale_up", "scale_down") and desired != service.replicas:
            await self.bus.emit(s.APP_UPDATED, AppUpdated(app_id=record.id, service=service.name, replicas=desired))
            return True
        if action == "restart":
            await self.bus.emit(s.APP_RESTART_REQUESTED, AppRestartRequested(app_id=record.id))
            return True
        return False
