"""Who may do what with each bucket and object store: one table, from which the NATS
permissions (nats_auth.py) and the bus's own behaviour (bus.py: who creates a bucket, who only
binds to it) are derived, so the code and the permissions read from one source.

Each store has one creator, the only service that creates it and may change its stream's
configuration; writers put, update and delete its keys or objects; readers only read. The
streams (events, dead letters, client intents) are declared by STREAMS_OWNER alone; every other
service waits for them and may not change them.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import subjects as s
from .uploads import UPLOAD_TTL_SECONDS, UPLOADS_MAX_BYTES


@dataclass(frozen=True)
class Access:
    creator: str
    writers: tuple[str, ...]  # besides the creator
    readers: tuple[str, ...] = ()
    # What it holds: (key format, value), as docs/events.md shows them.
    keys: tuple[tuple[str, str], ...] = ()
    # An object store's limits: how long an object lives (seconds), its total size; None: unbounded.
    ttl: float | None = None
    max_bytes: int | None = None

    def writes(self, service: str) -> bool:
        return service == self.creator or service in self.writers

    def reads(self, service: str) -> bool:
        return self.writes(service) or service in self.readers


STREAMS_OWNER = "api"
# Every object store is bounded (each owner's share of them is counted in storage.py).
CONTEXTS_MAX_BYTES = 8 * 1024**3
FILES_MAX_BYTES = 256 * 1024**2

KV_BUCKETS: dict[str, Access] = {
    # App records: the API writes what users ask, the deployer the status, and both the
    # per-owner admission lease.
    s.APPS_BUCKET: Access(
        "api",
        ("deployer",),
        ("monitor-config", "policy"),
        (
            ("app.<app id>", "AppRecord (appspec.py)"),
            ("seq.apps", "the last app number given (text)"),
            ("created-by.<event id>", "the app id an app.created made (text)"),
            ("admitting.<owner digest>", "AdmissionLease (store.py): who holds the owner's admission"),
            ("compose.<app id>", "the app's exported compose file (YAML)"),
        ),
    ),
    s.USERS_BUCKET: Access(
        "api",
        (),
        ("deployer", "policy"),
        (
            ("account.<user id>", "User (users.py)"),
            ("email.<hex of the email>", "the user id it belongs to (text)"),
            ("user.<hex of the email>", "an account from before user ids, given one at the API's start"),
        ),
    ),
    s.CONFIG_BUCKET: Access(  # the deployer checks revoked tokens
        "api",
        (),
        ("deployer",),
        (
            ("revoked.<token id>", "a revoked token (1)"),
            ("login.pair.<digest>", "LoginAttempts (users.py): login attempts of one email from one address"),
            ("login.address.<digest>", "LoginAttempts: login attempts from one address"),
            ("first-admin", "the email that registered first (text)"),
        ),
    ),
    s.KEYS_BUCKET: Access(  # signs (API), verifies (deployer)
        "api", (), ("deployer",), (("jwt-signing-key", "the token signing key (text)"),)
    ),
    s.WEBHOOK_BUCKET: Access(
        "alert-bridge", (), ("monitor-config",), (("alert-webhook-token", "Alertmanager's webhook token (text)"),)
    ),
    s.POLICIES_BUCKET: Access(  # the policy service seeds the shipped ones
        "policy", ("api",), (), (("<name>", "a Rego module's source"),)
    ),
    s.DECISIONS_BUCKET: Access(
        "policy",
        (),
        ("api",),
        (("app.<app id>", "AppDecisions: the app's latest PolicyDecision payloads (monitoring_state.py)"),),
    ),
    s.ALERTS_BUCKET: Access(
        "alert-bridge",
        (),
        ("api",),
        (
            (
                "alert.<fingerprint>",
                "AlertState: the alert as Alertmanager last sent it (monitoring_state.py)",
            ),
        ),
    ),
    s.SCANS_BUCKET: Access(
        "deployer",
        (),
        ("api",),
        (("digest.<image digest>", "ScanReport (scan.py)"), ("app.<app id>", "AppScan: the verdict on each image")),
    ),
    s.BUILDS_BUCKET: Access("deployer", (), ("api",), (("app.<app id>", "AppBuilds (builds.py)"),)),
    # The API records what users upload; the deployer what NATS clients upload, what it releases
    # and each owner's built images.
    s.STORAGE_BUCKET: Access(
        "api",
        ("deployer",),
        (),
        (
            ("context.<content digest>", "StoredObject (storage.py): its size and owners"),
            ("file.<file id>", "StoredObject: a secret's or config's content, its size and owner"),
            ("usage.<user id>", "OwnerUsage (storage.py): what the user stores and their built images take"),
        ),
    ),
}

OBJECT_STORES: dict[str, Access] = {
    # Uploads through the API; NATS clients' uploads, claimed by the deployer.
    s.CONTEXTS_OBJECTS: Access(
        "api",
        ("deployer",),
        (),
        (("<content digest>", "a build context's or folder's tar"),),
        max_bytes=CONTEXTS_MAX_BYTES,
    ),
    # The deployer also removes an app's files.
    s.FILES_OBJECTS: Access(
        "api", ("deployer",), (), (("f-<random>", "a secret's or config's content"),), max_bytes=FILES_MAX_BYTES
    ),
    # The client user may publish into it, nothing more.
    # Clients write it: unclaimed uploads expire, and all of them together are bounded.
    s.UPLOADS_OBJECTS: Access(
        "deployer",
        (),
        (),
        (("u-<owner key>-<random>", "a NATS client's upload"),),
        ttl=UPLOAD_TTL_SECONDS,
        max_bytes=UPLOADS_MAX_BYTES,
    ),
}


def _named() -> set[str]:
    named = {STREAMS_OWNER}
    for access in (*KV_BUCKETS.values(), *OBJECT_STORES.values()):
        named |= {access.creator, *access.writers, *access.readers}
    return named


def creates(service: str, store: str) -> bool:
    """Whether ``service`` creates ``store``. A connection outside the table (a test's own, as
    an unrestricted user) creates whatever it uses."""
    if service not in _named():
        return True
    access = KV_BUCKETS.get(store) or OBJECT_STORES.get(store)
    return access is not None and access.creator == service


def declares_streams(service: str) -> bool:
    return service == STREAMS_OWNER or service not in _named()


def kv_buckets_created_by(service: str) -> tuple[str, ...]:
    return tuple(name for name in KV_BUCKETS if creates(service, name))


def object_stores_created_by(service: str) -> tuple[str, ...]:
    """The object stores a service makes when it starts (so that the others never wait for
    one that nobody has used yet); a connection outside the table makes them when it uses them."""
    return tuple(name for name, access in OBJECT_STORES.items() if access.creator == service)
