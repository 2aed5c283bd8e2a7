"""The request/reply subjects' bodies (core NATS, outside the streams), as typed models: the
asker builds its request with one, the answerer reads it with the same, and docs/events.md is
rendered from ``RPC_BODIES``. Every answerer may also answer ``RpcError``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import subjects as s
from .appspec import AppId
from .live_logs import FollowAnswer, FollowRequest, LeaseRequest


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RpcError(_Body):
    """The answerer could not do it; the message says why."""

    error: str


class LogLines(_Body):
    """Which log lines: the last ``tail`` of each replica's log (of one ``service``, or all).
    The body of ``POST /apps/{id}/logs``."""

    tail: int = Field(default=100, ge=1, le=5000)
    service: str | None = Field(default=None, max_length=64)


class LogsRequest(LogLines):
    """Those lines of one app's replicas, asked of the deployer."""

    app_id: AppId


class StatsRequest(_Body):
    """Each running replica's CPU and memory."""

    app_id: AppId


class ContainersAnswer(_Body):
    """One entry a replica: its name and service with its log lines, or its CPU and memory."""

    containers: list[dict[str, Any]]


class AdmitRequest(_Body):
    """May ``owner`` (a user id) run ``spec`` (an AppSpec)? ``app_id``, an app being changed,
    does not count towards the owner's usage. With ``announce``, the verdict is published as
    policy.admission about that app, in the causal chain ``correlationid``."""

    owner: str
    spec: dict[str, Any]
    app_id: AppId | None = None
    announce: AppId | None = None
    correlationid: str | None = Field(default=None, max_length=128)


class Verdict(_Body):
    """A policy's decision: allowed, or the reasons (each naming a field) it is not."""

    allowed: bool
    reasons: list[str] = Field(default_factory=list)


class ScanJudgeRequest(_Body):
    """The scan policy's input for one image's report (see policies/scan.rego)."""

    input: dict[str, Any]


class PolicyCheckRequest(_Body):
    """Does the policy set compile with ``source`` as module ``name``?"""

    name: str
    source: str


class DryRunRequest(_Body):
    """data.crane.<package>.decision for ``input``, with ``source`` in place of policy ``name``."""

    input: dict[str, Any] | None = None
    package: str | None = None
    source: str | None = None
    name: str | None = None


class ShippedRequest(_Body):
    """The source CRANE ships for the policy ``name``."""

    name: str


class ShippedAnswer(_Body):
    """The shipped source, or why there is none."""

    source: str | None = None
    error: str | None = None


class SandboxAnswer(_Body):
    """A compile or dry run: ok with the decision, or the engine's error."""

    ok: bool
    decision: Any = None
    error: str | None = None


class WebhookRequest(_Body):
    """Alertmanager's webhook, handed over by the API: its bearer token and its payload."""

    token: str | None = None
    payload: Any = None


class WebhookAnswer(_Body):
    """``status`` 200 with how many alerts were published and how many were repeats, or 401
    or 422 with ``detail``."""

    status: int
    detail: Any = None
    published: int | None = None
    duplicates: int | None = None


# subject -> (request, answer), in docs/events.md.
RPC_BODIES: dict[str, tuple[type[BaseModel], type[BaseModel]]] = {
    s.RPC_APP_LOGS: (LogsRequest, ContainersAnswer),
    s.RPC_APP_STATS: (StatsRequest, ContainersAnswer),
    s.RPC_APP_LOGS_FOLLOW: (FollowRequest, FollowAnswer),
    s.RPC_APP_LOGS_LEASE: (LeaseRequest, FollowAnswer),
    s.RPC_POLICY_ADMIT: (AdmitRequest, Verdict),
    s.RPC_POLICY_SCAN: (ScanJudgeRequest, Verdict),
    s.RPC_POLICY_CHECK: (PolicyCheckRequest, SandboxAnswer),
    s.RPC_POLICY_EVALUATE: (DryRunRequest, SandboxAnswer),
    s.RPC_POLICY_SHIPPED: (ShippedRequest, ShippedAnswer),
    s.RPC_ALERT_WEBHOOK: (WebhookRequest, WebhookAnswer),
}
