"""Subject names, streams and key-value buckets: the addresses of everything on the bus.

Subjects have the shape ``<entity>.<event>``. Intents (what a client wants) and facts (what a
service observed or did) share one stream so that any service can replay the whole story.
"""

# Intents: published by the API or by any client that talks to NATS directly.
APP_CREATED = "app.created"
APP_UPDATED = "app.updated"
APP_DELETED = "app.deleted"
APP_RESTART_REQUESTED = "app.restart_requested"
# The lab's chaos control (API only, never a client intent): kill one replica as a crash would.
APP_KILL_REQUESTED = "app.kill_requested"

# Intents a client publishes straight to NATS: the same payloads under client.<intent>, with
# the user's API token in the Crane-Token header. The deployer checks the token, the owner and
# the admission policy, then republishes them as the intents above; clients may publish nothing
# else (NATS permissions), so an app.* intent always comes from a CRANE service.
CLIENT_PREFIX = "client"
TOKEN_HEADER = "Crane-Token"
INTENTS = (APP_CREATED, APP_UPDATED, APP_DELETED, APP_RESTART_REQUESTED)


def client_subject(intent: str) -> str:
    return f"{CLIENT_PREFIX}.{intent}"


CLIENT_INTENTS = tuple(client_subject(i) for i in INTENTS)

# Facts: published by the deployer.
APP_DEPLOYED = "app.deployed"
APP_SCALED = "app.scaled"
APP_STOPPED = "app.stopped"
APP_FAILED = "app.failed"
APP_REMOVED = "app.removed"
CONTAINER_CREATED = "container.created"
CONTAINER_DIED = "container.died"

# Monitoring: what monitor-config wrote for an app (targets and rules, Prometheus reloaded).
MONITORING_UPDATED = "monitoring.updated"

# Policy: each admission verdict the API or the deployer asked for about an app.
POLICY_ADMISSION = "policy.admission"

# The lab (API): a bounded load sent to an app's own route, started and finished.
LAB_LOAD_STARTED = "lab.load_started"
LAB_LOAD_FINISHED = "lab.load_finished"

# Monitoring (alert-bridge, policy).
ALERT_FIRING = "alert.firing"
ALERT_RESOLVED = "alert.resolved"

# Policy: every decision, with its inputs and outcome.
POLICY_DECISION = "policy.decision"

# Image scanning (deployer, before an image runs).
SCAN_COMPLETED = "scan.completed"

# Builds from source (deployer): started, output lines, completed or failed with the error.
BUILD_STARTED = "build.started"
BUILD_PROGRESS = "build.progress"
BUILD_COMPLETED = "build.completed"
BUILD_FAILED = "build.failed"

# Errors: a message some consumer could not accept.
EVENT_REJECTED = "event.rejected"

# Where rejected messages are kept, as ``deadletter.<original subject>``.
DEADLETTER_PREFIX = "deadletter"

# Request/reply (core NATS, deliberately outside every stream: a stream would answer the request).
RPC_APP_LOGS = "rpc.app.logs"
RPC_APP_STATS = "rpc.app.stats"
# Live logs (live_logs.py): the API asks the deployer to follow an app's replicas, renews that
# while its client listens, and reads the lines from logs.<stream> (core NATS, API only).
RPC_APP_LOGS_FOLLOW = "rpc.app.logs.follow"
RPC_APP_LOGS_LEASE = "rpc.app.logs.lease"
LOGS_PREFIX = "logs"
# Watching with NATS directly: a client that connects with its API token (the API answers NATS's
# auth callout) may subscribe to its own view, view.<owner key>.<event type>: the events of its
# apps (an admin's: view.>), republished by the API; no other user's data is on its subjects.
AUTH_CALLOUT = "$SYS.REQ.USER.AUTH"
VIEW_PREFIX = "view"
RPC_POLICY_CHECK = "rpc.policy.check"
RPC_POLICY_EVALUATE = "rpc.policy.evaluate"
RPC_POLICY_ADMIT = "rpc.policy.admit"
RPC_POLICY_SCAN = "rpc.policy.scan"
RPC_POLICY_SHIPPED = "rpc.policy.shipped"  # the source CRANE ships for a policy (to restore it)
RPC_ALERT_WEBHOOK = "rpc.alert.webhook"

EVENTS_STREAM = "CRANE_EVENTS"
EVENTS_STREAM_SUBJECTS = [
    "app.>", "container.>", "alert.>", "policy.>", "scan.>", "build.>", "event.>", "monitoring.>", "lab.>",
]  # fmt: skip
# Client requests wait here until the deployer took them (work queue: then they are gone, and
# the tokens in their headers with them).
CLIENT_STREAM = "CRANE_CLIENT"
CLIENT_STREAM_SUBJECTS = [f"{CLIENT_PREFIX}.>"]
DEADLETTER_STREAM = "CRANE_DEADLETTER"
DEADLETTER_STREAM_SUBJECTS = [f"{DEADLETTER_PREFIX}.>"]

# Key-value buckets (JetStream KV): the suite's state.
APPS_BUCKET = "crane_apps"
USERS_BUCKET = "crane_users"
# Revoked tokens, login counters, the first-admin claim (the API's).
CONFIG_BUCKET = "crane_config"
# The token signing key, alone: the API makes it and signs with it, the deployer verifies.
KEYS_BUCKET = "crane_keys"
# The token Alertmanager's webhook presents: the alert-bridge makes it and checks it,
# monitor-config writes it into Alertmanager's configuration.
WEBHOOK_BUCKET = "crane_webhook"
POLICIES_BUCKET = "crane_policies"
DECISIONS_BUCKET = "crane_decisions"
ALERTS_BUCKET = "crane_alerts"
# Scan reports by image digest (digest.<hex>) and each app's latest verdict (app.<id>).
SCANS_BUCKET = "crane_scans"
# Each app's latest builds with their logs (app.<id>), written by the deployer.
BUILDS_BUCKET = "crane_builds"
# Who owns each stored context and file, and what each owner stores (storage.py).
STORAGE_BUCKET = "crane_storage"
ALL_BUCKETS = (
    APPS_BUCKET, USERS_BUCKET, CONFIG_BUCKET, KEYS_BUCKET, WEBHOOK_BUCKET, POLICIES_BUCKET, DECISIONS_BUCKET,
    ALERTS_BUCKET, SCANS_BUCKET, BUILDS_BUCKET, STORAGE_BUCKET,
)  # fmt: skip
# Object store (JetStream): uploaded build contexts, named by their content digest. The API
# writes them, the deployer reads them; NATS messages stay small.
CONTEXTS_OBJECTS = "crane_contexts"
# Object store: the content of uploaded secrets and configs under random ids (API writes, the
# deployer reads them to mount and removes them with the app).
FILES_OBJECTS = "crane_files"
# Object store: files that NATS clients send with their intents (uploads.py). Clients may only
# write it; the deployer moves each upload to the stores above and deletes it.
UPLOADS_OBJECTS = "crane_uploads"


def deadletter_subject(original: str) -> str:
    """The subject a rejected message from ``original`` is kept under."""
    return f"{DEADLETTER_PREFIX}.{original}"
