"""Policy wiring: alerts (reacting.py, over the episodes of episodes.py and the decider),
admission (admitting.py), scan verdicts (scan_verdicts.py) and policy management for the API
(policy_admin.py), all deciding with the engine of engine_choice.py; /metrics."""

from __future__ import annotations

import asyncio
import logging

from crane_shared import subjects as s
from crane_shared.monitoring_state import DecisionLog
from crane_shared.policies import Policies
from crane_shared.service import configure_logging, connect_service_bus, start_metrics_server, stop_on_signals
from crane_shared.store import AppStore
from crane_shared.users import UserStore

from .admitting import Admission
from .decider import Decider
from .engine_choice import Engines
from .policy_admin import PolicyAdmin
from .policy_store import default_policies
from .prometheus import Prometheus
from .reacting import AlertReactions
from .scaling_memory import ScalingMemory
from .scan_verdicts import ScanVerdicts
from .settings import PolicySettings

log = logging.getLogger("crane.policy")


async def serve(settings: PolicySettings) -> None:
    stop = stop_on_signals()
    start_metrics_server(settings.metrics_port)
    bus = await connect_service_bus(settings, "policy")
    policies = Policies(await bus.kv(s.POLICIES_BUCKET))
    await policies.seed(default_policies())
    store = AppStore(await bus.kv(s.APPS_BUCKET))
    await store.watch()  # admission reads every app of the owner: from memory, not app by app
    users = UserStore(await bus.kv(s.USERS_BUCKET), await bus.kv(s.CONFIG_BUCKET))
    engines = Engines(policies, settings.opa_url, settings.policy_budget_seconds)
    memory = ScalingMemory()
    prometheus = Prometheus(settings.prometheus_url)
    decisions = DecisionLog(await bus.kv(s.DECISIONS_BUCKET))
    decider = Decider(bus, store, prometheus, engines.current, memory, decisions, settings.suite, settings.rate_window)
    alerts = AlertReactions(decider, store, memory, settings.reevaluate_seconds)
    admin = PolicyAdmin(policies)
    admission = Admission(bus, store, users, engines, settings.default_cpus, settings.default_memory)
    await bus.serve(s.RPC_POLICY_CHECK, admin.check)
    await bus.serve(s.RPC_POLICY_EVALUATE, admin.dry_run)
    await bus.serve(s.RPC_POLICY_SHIPPED, admin.shipped)
    await bus.serve(s.RPC_POLICY_ADMIT, admission.admit)
    await bus.serve(s.RPC_POLICY_SCAN, ScanVerdicts(engines).judge)
    handlers = {s.ALERT_FIRING: alerts.on_alert, s.ALERT_RESOLVED: alerts.on_alert}
    tasks = [
        asyncio.create_task(bus.consume("policy", "alert.>", handlers, stop)),
        asyncio.create_task(alerts.keep_converging(stop)),
    ]
    log.info("policy ready (engine: %s)", "opa " + settings.opa_url if settings.opa_url else "regopy")
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    await bus.close()


def run() -> None:
    settings = PolicySettings()
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
