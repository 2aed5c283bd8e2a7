"""What the alerts and decisions buckets hold, as typed models: the alert-bridge and the policy
service write them, the API reads them (buckets.py says who may)."""

from __future__ import annotations

from typing import Literal

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
