"""The policy's side of alerts (an adapter): each alert.firing and alert.resolved moves its
episode (episodes.py, pure), and what the step says is carried out: the target evaluated by the
decider in the alert's causal chain, and, while a load alert fires, evaluated again every tick."""

from __future__ import annotations

import asyncio
import logging

from pydantic import BaseModel

from crane_shared import subjects as s
from crane_shared.correlation import chain_of, following
from crane_shared.events import Alert, Event
from crane_shared.service import wait_or_stop
from crane_shared.store import AppStore

from .decider import Decider, service_key
from .episodes import Episodes
from .scaling_memory import ScalingMemory

log = logging.getLogger("crane.policy.alerts")


class AlertReactions:
    def __init__(self, decider: Decider, store: AppStore, memory: ScalingMemory, tick_seconds: float) -> None:
        self.decider, self.store, self.memory = decider, store, memory
        self.tick_seconds = tick_seconds
        self.episodes = Episodes()

    async def on_alert(self, event: Event, payload: BaseModel) -> None:
        assert isinstance(payload, Alert)
        if not payload.app_id:
            return
        firing = event.type == s.ALERT_FIRING
        episode = f"{payload.fingerprint}-{payload.starts_at}"
        target = (payload.app_id, payload.service)
        step = self.episodes.on_alert(payload.alertname, target, firing, chain_of(event), episode)
        if step.low_load_began:
            record = await self.store.get(payload.app_id)
            service = record.spec.service(payload.service) if record else None
            if service:
                self.memory.low_load_began(service_key(*target), service.replicas)
        if step.evaluate:
            app_id, service_name = step.evaluate
            await self.decider.evaluate(app_id, payload.alertname, service_name)

    async def keep_converging(self, stop: asyncio.Event) -> None:
        """Every tick, evaluate each service whose load alert fires, in that alert's chain."""
        while not stop.is_set():
            for target, firing in self.episodes.due():
                try:
                    with following(firing.chain):  # a step further along the alert's chain
                        decided = await self.decider.evaluate(target[0], firing.alert, target[1])
                    if decided is None:
                        self.episodes.ended(target)
                except Exception:  # noqa: BLE001 - one app must not stop the others
                    log.exception("evaluation of %s failed", service_key(*target))
            await wait_or_stop(stop, self.tick_seconds)
