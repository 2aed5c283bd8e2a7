"""What the alerts and decisions buckets hold, as typed models: the alert-bridge and the policy
service write them, the API reads them (buckets.py says who may)."""

from __future__ import annotations

from typing import Literal

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, RootModel

from .events import PolicyDecision

KEPT_DECISIONS = 100  # an app's latest decisions, newest last
ALERT_PREFIX = "alert."


def alert_key(fingerprint: str) -> str:
    return ALERT_PREFIX + fingerprint


def decisions_key(app_id: str) -> str:
    return f"app.{app_id}"


class AlertState(BaseModel):
    """An alert as Alertmanager last sent it (the alerts bucket, under alert.<fingerprint>)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    starts_at: str  # ISO 8601, as it began
    app_id: str | None = None
    alertname: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}

    def same_episode_state(self, other: AlertState) -> bool:
        """The same status of the same episode: a repeat of a notification, not a change."""
        return (self.status, self.starts_at) == (other.status, other.starts_at)


class FiringAlert(AlertState):
    """An alert firing now, with its fingerprint (GET /api/v1/alerts)."""

    fingerprint: str


class AppDecisions(RootModel[list[PolicyDecision]]):
    """An app's latest decisions, newest last (the decisions bucket, under app.<app id>)."""

    def adding(self, decision: PolicyDecision) -> AppDecisions:
        return AppDecisions([*self.root, decision][-KEPT_DECISIONS:])


class DecisionLog:
    """Each app's latest policy decisions (the decisions bucket): the policy adds, the API reads."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def latest(self, app_id: str) -> list[PolicyDecision]:
        """The app's latest decisions, newest last."""
        try:
            entry = await self.kv.get(decisions_key(app_id))
        except KeyNotFoundError:
            return []
        return AppDecisions.model_validate_json(entry.value or b"[]").root

    async def add(self, decision: PolicyDecision) -> None:
        kept = AppDecisions(await self.latest(decision.app_id))
        await self.kv.put(decisions_key(decision.app_id), kept.adding(decision).model_dump_json().encode())
