"""The event envelope (CloudEvents attribute names) and the payload model of every subject.

``PAYLOADS`` maps each subject to its payload model; docs/events.md is generated from it and a
test keeps the two in step. ``parse_event`` is the single place where bytes become an event.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import subjects as s
from .appspec import AppId, AppSpec, utcnow
from .scan import Finding

MAX_EVENT_FINDINGS = 50  # the event carries the worst ones; GET /apps/{id}/scan has them all


class Event(BaseModel):
    """One message on the bus. ``type`` is the subject; ``subject`` is the app id it concerns;
    ``correlationid`` is the id of the event that began its causal chain (none on that event
    itself: correlation.py)."""

    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=128)
    type: str
    source: str = Field(default="client", max_length=128)
    time: datetime = Field(default_factory=utcnow)
    subject: str | None = Field(default=None, max_length=128)
    correlationid: str | None = Field(default=None, max_length=128)
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppCreated(_Payload):
    """Deploy a new app. ``app_id`` is set by the API; a direct publisher leaves it out and the
    deployer assigns one. ``owner`` is the id of the user the app belongs to (users.py), and
    ``owner_email`` their email, for people to read."""

    app_id: AppId | None = None
    owner: str | None = None
    owner_email: str | None = None
    spec: AppSpec


class AppUpdated(_Payload):
    """Change an app: a new spec, a new replica count of one service (``service``, or the
    primary service when absent), or start/stop. Absent fields stay."""

    app_id: AppId
    spec: AppSpec | None = None
    service: str | None = Field(default=None, max_length=64)
    replicas: int | None = Field(default=None, ge=0, le=50)
    desired_state: Literal["running", "stopped"] | None = None


class AppDeleted(_Payload):
    """Delete an app: its containers, networks, volumes and state go."""

    app_id: AppId


class AppRestartRequested(_Payload):
    """Replace every replica of an app once (a rolling restart is not promised)."""

    app_id: AppId


class AppKillRequested(_Payload):
    """The lab asks to kill one replica (the ``replica``-th of ``service``) as a crash would:
    the deployer replaces it, and the chain of this request shows the healing."""

    app_id: AppId
    service: str = Field(max_length=64)
    replica: int = Field(default=0, ge=0, le=49)


class AppDeployed(_Payload):
    """All desired replicas of an app are running (and healthy, where a healthcheck is set)."""

    app_id: AppId
    replicas: int
    url: str | None = None


class AppScaled(_Payload):
    """A running app reached a new number of ready replicas (all services together);
    ``services`` has each service's."""

    app_id: AppId
    previous_replicas: int
    replicas: int
    services: dict[str, int] = Field(default_factory=dict)


class AppStopped(_Payload):
    """An app that was asked to stop has no replica left."""

    app_id: AppId


class AppFailed(_Payload):
    """The deployer could not run an app; ``reason`` is Docker's error (e.g. image not found)."""

    app_id: AppId
    reason: str


class AppRemoved(_Payload):
    """A deleted app has nothing left on the Engine or in the state."""

    app_id: AppId


class ContainerCreated(_Payload):
    """The deployer created and started a replica (the ``replica``-th of ``service``): for a new
    app, a scale-out, a changed spec, or in place of one that died."""

    app_id: AppId
    service: str
    container: str
    replica: int


class ContainerDied(_Payload):
    """A replica stopped without the deployer asking; it is replaced at once."""

    app_id: AppId
    service: str
    container: str
    exit_code: int | None = None


class MonitoringUpdated(_Payload):
    """monitor-config wrote an app's scrape targets and alert rules (or removed them) and asked
    Prometheus to reload them."""

    app_id: AppId
    rules: list[str] = Field(default_factory=list)  # the alert names now watched (none: removed)
    reloaded: bool


class PolicyAdmission(_Payload):
    """The admission policy's verdict on an app's spec, as the API or the deployer asked it."""

    app_id: AppId
    allowed: bool
    reasons: list[str] = Field(default_factory=list)


class LabLoadStarted(_Payload):
    """The lab began sending ``rate`` requests a second for ``seconds`` to the app's route."""

    app_id: AppId
    run_id: str
    rate: float
    seconds: float
    path: str


class LabLoadFinished(_Payload):
    """A lab load ended (its time was up, or it was stopped): what was sent and answered."""

    app_id: AppId
    run_id: str
    sent: int
    ok: int
    failed: int
    p95_ms: float | None = None
    stopped: bool


class Alert(_Payload):
    """An Alertmanager alert about an app (and one of its services, for load alerts), firing
    or resolved.

    The policy follows each alert's episode as a state machine
    (services/policy/crane_policy/episodes.py). A load alert (CraneHighLoad, CraneLowLoad) for
    a service: *quiet* until it fires, then *firing* (the service is evaluated at once, at each
    resend and every second after, each policy.decision in the alert's chain; the other load
    alert firing replaces it, and CraneLowLoad beginning starts the stabilization window with
    the replicas of now), then *quiet* again when that alert resolves or the service is gone or
    stopped. A restart alert (CraneReplicasDown) for an app: each episode (fingerprint and
    start) is *acted* on once, whatever Alertmanager repeats, and forgotten when it resolves.
    Other alerts (CraneHighErrorRate) are shown, not acted on."""

    app_id: str | None = None
    service: str | None = None
    alertname: str
    fingerprint: str
    starts_at: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class PolicyDecision(_Payload):
    """What the policy decided about an alert, with everything it looked at, so a person can
    follow why CRANE scaled (or did not)."""

    app_id: AppId
    service: str | None = None
    alert: str
    action: Literal["scale_up", "scale_down", "restart", "none"]
    reason: str
    metric: str | None = None
    value: float | None = None
    target: float | None = None
    current_replicas: int
    desired_replicas: int
    policy: str
    engine: str
    outcome: Literal["applied", "skipped"]


class ScanCompleted(_Payload):
    """An image of an app was scanned (or a cached scan of its digest applied) and the scan
    policy judged it. ``allowed`` False means the deploy was blocked, for ``reasons``."""

    app_id: AppId
    image: str
    digest: str
    scanner: str
    vulnerability_db: str
    scanned: bool
    cached: bool
    counts: dict[str, dict[str, int]]
    findings: list[Finding] = Field(default_factory=list, max_length=MAX_EVENT_FINDINGS)
    allowed: bool
    reasons: list[str] = Field(default_factory=list)


class BuildStarted(_Payload):
    """The deployer began building a service's image from its uploaded context."""

    app_id: AppId
    service: str
    build_id: str
    context: str  # the context's content digest
    image: str  # the tag the image gets


class BuildProgress(_Payload):
    """Output lines of a running build (a few at a time)."""

    app_id: AppId
    service: str
    build_id: str
    lines: list[str] = Field(max_length=200)


class BuildCompleted(_Payload):
    """A service's image is built (or was built before from the same context: ``cached``)."""

    app_id: AppId
    service: str
    build_id: str
    image: str
    cached: bool
    seconds: float


class BuildFailed(_Payload):
    """A build failed; ``error`` is the builder's. The app is failed with it, and replicas of a
    previous version keep running."""

    app_id: AppId
    service: str
    build_id: str
    error: str


class EventRejected(_Payload):
    """A message some consumer could not accept; the original is kept on the dead-letter subject."""

    original_subject: str
    consumer: str
    reason: str
    deadletter_subject: str


PAYLOADS: dict[str, type[BaseModel]] = {
    s.APP_CREATED: AppCreated,
    s.APP_UPDATED: AppUpdated,
    s.APP_DELETED: AppDeleted,
    s.APP_RESTART_REQUESTED: AppRestartRequested,
    s.APP_KILL_REQUESTED: AppKillRequested,
    s.APP_DEPLOYED: AppDeployed,
    s.APP_SCALED: AppScaled,
    s.APP_STOPPED: AppStopped,
    s.APP_FAILED: AppFailed,
    s.APP_REMOVED: AppRemoved,
    s.CONTAINER_CREATED: ContainerCreated,
    s.CONTAINER_DIED: ContainerDied,
    s.MONITORING_UPDATED: MonitoringUpdated,
    s.POLICY_ADMISSION: PolicyAdmission,
    s.LAB_LOAD_STARTED: LabLoadStarted,
    s.LAB_LOAD_FINISHED: LabLoadFinished,
    s.ALERT_FIRING: Alert,
    s.ALERT_RESOLVED: Alert,
    s.POLICY_DECISION: PolicyDecision,
    s.SCAN_COMPLETED: ScanCompleted,
    s.BUILD_STARTED: BuildStarted,
    s.BUILD_PROGRESS: BuildProgress,
    s.BUILD_COMPLETED: BuildCompleted,
    s.BUILD_FAILED: BuildFailed,
    s.EVENT_REJECTED: EventRejected,
}

# A client publishing straight to NATS sends the same intents under client.<intent>.
PAYLOADS.update({s.client_subject(intent): PAYLOADS[intent] for intent in s.INTENTS})

MAX_EVENT_BYTES = 256 * 1024


class InvalidEvent(ValueError):
    """Bytes that are not a valid event for their subject; the message says why."""


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line per problem, each naming the field path, e.g. ``data.spec.services.0.image``."""
    lines = []
    for problem in error.errors():
        path = ".".join(str(p) for p in (prefix, *problem["loc"]) if p != "")
        lines.append(f"{path or '(root)'}: {problem['msg']}")
    return "; ".join(lines)


def new_event(subject: str, payload: BaseModel, *, source: str, **attrs: Any) -> Event:
    """An envelope for ``payload`` on ``subject``; ``subject`` attr defaults to the app id."""
    data = payload.model_dump(mode="json", exclude_none=True)
    attrs.setdefault("subject", data.get("app_id"))
    return Event(type=subject, source=source, data=data, **attrs)


def parse_event(raw: bytes, subject: str, *, fallback_id: str | None = None) -> tuple[Event, BaseModel]:
    """Validate ``raw`` as an event on ``subject``; return the envelope and the typed payload.

    ``fallback_id`` (e.g. the stream sequence) is used when the publisher gave no id, so that a
    redelivered message always gets the same id and handlers stay idempotent.
    """
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidEvent(f"message is {len(raw)} bytes, more than {MAX_EVENT_BYTES}")
    model = PAYLOADS.get(subject)
    if model is None:
        raise InvalidEvent(f"no event type is defined for subject {subject!r}")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidEvent("the envelope must be a JSON object")
    body.setdefault("type", subject)
    if fallback_id and "id" not in body:
        body["id"] = fallback_id
    try:
        event = Event.model_validate(body)
    except ValidationError as exc:
        raise InvalidEvent(describe_validation_error(exc)) from None
    if event.type != subject:
        raise InvalidEvent(f"type: {event.type!r} does not match the subject {subject!r}")
    try:
        payload = model.model_validate(event.data)
    except ValidationError as exc:
        raise InvalidEvent(describe_validation_error(exc, prefix="data")) from None
    return event, payload
