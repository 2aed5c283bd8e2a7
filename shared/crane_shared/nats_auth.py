"""NATS authentication: one user per CRANE service, each allowed to publish and subscribe to
only what it needs, plus a `client` user for people who publish straight to NATS (who may only
send client.* intents, with their API token in a header).

The permissions are derived from the contract: subjects and consumers from the table below,
buckets and object stores from buckets.py (one creator, writers, readers), so giving a service a
new subject or bucket is a one-line change. Passwords are generated on first
start, written to files only the matching service gets, and stored in the NATS configuration as
bcrypt hashes.

    python -m crane_shared.nats_auth deploy/.secrets    # what `make up` runs
"""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import subjects as s
from .buckets import KV_BUCKETS, OBJECT_STORES, STREAMS_OWNER, Access
from .bus import inbox_prefix
from .nats_jwt import key_pair, new_account_seed
from .uploads import owner_key

CLIENT_USER = "client"
CALLOUT_SEED_FILE = "callout.seed"  # the key the API signs the users it admits with (API only)


@dataclass(frozen=True)
class Needs:
    publishes: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()  # RPC subjects it asks
    serves: tuple[str, ...] = ()  # RPC subjects it answers
    consumes: dict[str, str] = field(default_factory=dict)  # stream -> durable consumer name
    subscribes: tuple[str, ...] = ()  # core NATS subjects it listens to (outside the streams)
    watches: tuple[str, ...] = ()  # streams it reads with consumers of its own (not durable)


SERVICES: dict[str, Needs] = {
    "api": Needs(
        # Intents, the lab's (its loads and replica kills), and each user's view of the events.
        publishes=(*s.INTENTS, s.APP_KILL_REQUESTED, s.LAB_LOAD_STARTED, s.LAB_LOAD_FINISHED, f"{s.VIEW_PREFIX}.>"),
        serves=(s.AUTH_CALLOUT,),  # who may connect with an API token, and to what
        requests=(s.RPC_APP_LOGS, s.RPC_APP_STATS, s.RPC_APP_LOGS_FOLLOW, s.RPC_APP_LOGS_LEASE, s.RPC_POLICY_CHECK,
                  s.RPC_POLICY_EVALUATE, s.RPC_POLICY_ADMIT, s.RPC_POLICY_SHIPPED, s.RPC_ALERT_WEBHOOK),
        subscribes=(f"{s.LOGS_PREFIX}.>",),  # the live logs it asked the deployer for
        watches=(s.EVENTS_STREAM,),  # GET /events
    ),
    "deployer": Needs(
        # Its own facts, and the intents of clients once their token and owner are checked.
        publishes=(s.APP_DEPLOYED, s.APP_SCALED, s.APP_STOPPED, s.APP_FAILED, s.APP_REMOVED, s.CONTAINER_CREATED,
                   s.CONTAINER_DIED, s.SCAN_COMPLETED, s.BUILD_STARTED, s.BUILD_PROGRESS, s.BUILD_COMPLETED,
                   s.BUILD_FAILED, *s.INTENTS, f"{s.LOGS_PREFIX}.>"),
        requests=(s.RPC_POLICY_ADMIT, s.RPC_POLICY_SCAN),
        serves=(s.RPC_APP_LOGS, s.RPC_APP_STATS, s.RPC_APP_LOGS_FOLLOW, s.RPC_APP_LOGS_LEASE),
        consumes={s.EVENTS_STREAM: "deployer", s.CLIENT_STREAM: "deployer-client"},
    ),
    "monitor-config": Needs(
        publishes=(s.MONITORING_UPDATED,),
        consumes={s.EVENTS_STREAM: "monitor-config"},
    ),
    "alert-bridge": Needs(
        publishes=(s.ALERT_FIRING, s.ALERT_RESOLVED),
        serves=(s.RPC_ALERT_WEBHOOK,),
    ),
    "policy": Needs(
        publishes=(s.POLICY_DECISION, s.POLICY_ADMISSION, s.APP_UPDATED, s.APP_RESTART_REQUESTED),
        serves=(s.RPC_POLICY_CHECK, s.RPC_POLICY_EVALUATE, s.RPC_POLICY_ADMIT, s.RPC_POLICY_SCAN,
                s.RPC_POLICY_SHIPPED),
        consumes={s.EVENTS_STREAM: "policy"},
    ),
}  # fmt: skip
STREAMS = (s.EVENTS_STREAM, s.DEADLETTER_STREAM, s.CLIENT_STREAM)


def _stream_subjects(stream: str, access: Access, service: str) -> list[str]:
    """Read a store's stream (directly, and through consumers of one's own, answering their flow
    control); its creator alone may create it or change its configuration."""
    subjects = [
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}.>",
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DELETE.{stream}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]
    if access.creator == service:
        subjects += [f"$JS.API.STREAM.CREATE.{stream}", f"$JS.API.STREAM.UPDATE.{stream}"]
    return subjects


def _bucket_subjects(service: str) -> list[str]:
    """The key-value buckets and object stores ``service`` may read, write or create (buckets.py)."""
    subjects: list[str] = []
    for bucket, access in KV_BUCKETS.items():
        if access.reads(service):
            subjects += _stream_subjects(f"KV_{bucket}", access, service)
        if access.writes(service):
            subjects.append(f"$KV.{bucket}.>")
    for bucket, access in OBJECT_STORES.items():
        if access.reads(service):
            subjects += _stream_subjects(f"OBJ_{bucket}", access, service)
        if access.writes(service):  # a put purges the chunks it replaces
            subjects += [f"$O.{bucket}.C.>", f"$O.{bucket}.M.>", f"$JS.API.STREAM.PURGE.OBJ_{bucket}"]
    return subjects


def _consumer_subjects(stream: str, durable: str) -> list[str]:
    return [
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def _others_durables(service: str) -> list[str]:
    """What would delete, redefine or pull from another service's durable consumer: denied, as
    a reader's rights on a stream (any consumer of its own) would otherwise cover them."""
    denied = []
    for other, needs in SERVICES.items():
        if other != service:
            for stream, durable in needs.consumes.items():
                denied += [f"$JS.API.CONSUMER.DELETE.{stream}.{durable}", *_consumer_subjects(stream, durable)]
    return sorted(denied)


def service_permissions(service: str) -> dict[str, Any]:
    """The NATS permissions of ``service``: its streams' and buckets' JetStream API, its events,
    its RPCs, and its private inbox."""
    needs = SERVICES[service]
    publish = ["$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.INFO.*"]
    if service == STREAMS_OWNER:  # the others wait for the streams, and may not change them
        for stream in STREAMS:
            publish += [f"$JS.API.STREAM.CREATE.{stream}", f"$JS.API.STREAM.UPDATE.{stream}"]
    publish += _bucket_subjects(service)
    for stream, durable in needs.consumes.items():
        publish += _consumer_subjects(stream, durable)
    for stream in needs.watches:
        publish += _stream_subjects(stream, Access(STREAMS_OWNER, ()), service)
    if needs.consumes:  # a consumer dead-letters what it cannot accept
        publish += [f"{s.DEADLETTER_PREFIX}.>", s.EVENT_REJECTED]
    publish += [*needs.publishes, *needs.requests]
    permissions: dict[str, Any] = {
        "publish": {"allow": sorted(set(publish)), "deny": _others_durables(service)},
        "subscribe": {"allow": [f"{inbox_prefix(service)}.>", *needs.serves, *needs.subscribes]},
    }
    if needs.serves:
        permissions["allow_responses"] = True  # answer requests on the asker's inbox
    return permissions


def client_permissions() -> dict[str, Any]:
    """Direct publishers: client.* intents, and the files they name as uploads (uploads.py):
    publishing the upload store's chunks and metadata only, never reading, listing or purging
    it (acknowledged on their own inbox); nothing else."""
    uploads = [f"$O.{s.UPLOADS_OBJECTS}.C.>", f"$O.{s.UPLOADS_OBJECTS}.M.>"]
    return {"publish": {"allow": [*s.CLIENT_INTENTS, *uploads]}, "subscribe": {"allow": ["_INBOX.>"]}}


def view_subject(owner: str, event_type: str) -> str:
    return f"{s.VIEW_PREFIX}.{owner_key(owner)}.{event_type}"


def events_subject(owner: str, is_admin: bool) -> str:
    """What a watcher may subscribe to: their own view of the events (an admin's: every view)."""
    return f"{s.VIEW_PREFIX}.>" if is_admin else view_subject(owner, ">")


def watcher_permissions(owner: str, is_admin: bool) -> dict[str, Any]:
    """A user connected with their API token (the auth callout): what the client user may do,
    and their own view of the events. In NATS's JWT form."""
    client = client_permissions()
    view = events_subject(owner, is_admin)
    return {"pub": {"allow": client["publish"]["allow"]}, "sub": {"allow": [*client["subscribe"]["allow"], view]}}


def render_config(
    password_hashes: dict[str, str], unrestricted: tuple[str, ...] = (), callout_issuer: str | None = None
) -> str:
    """nats-server's configuration (JSON is valid NATS config): users and durability.
    ``unrestricted`` users (tests only) get no permission limits. With ``callout_issuer`` (the
    public key of the callout's account key), a connection that is none of these users is
    admitted, or not, by the API (the auth callout: an API token as the NATS token)."""
    users = []
    for user, hashed in sorted(password_hashes.items()):
        entry: dict[str, Any] = {"user": user, "password": hashed}
        if user in SERVICES:
            entry["permissions"] = service_permissions(user)
        elif user == CLIENT_USER:
            entry["permissions"] = client_permissions()
        elif user not in unrestricted:
            raise ValueError(f"no permissions are defined for NATS user {user!r}")
        users.append(entry)
    # JetStream fsyncs every write before acknowledging it: an app accepted with 202 survives
    # a power cut (the default, a sync every 2 minutes, may lose acknowledged writes).
    authorization: dict[str, Any] = {"users": users}
    if callout_issuer is not None:
        authorization["auth_callout"] = {"issuer": callout_issuer, "auth_users": sorted(password_hashes)}
    config = {"jetstream": {"sync_interval": "always"}, "authorization": authorization}
    return json.dumps(config, indent=2) + "\n"


def hash_password(password: str) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def ensure_credentials(directory: Path, unrestricted: tuple[str, ...] = ()) -> dict[str, str]:
    """Create ``<user>.password`` for each service, the client and the ``unrestricted`` users
    (tests only) that has none (first start), write nats.conf from them, and return the
    passwords. Existing passwords are kept."""
    users = (*SERVICES, CLIENT_USER, *unrestricted)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # the files themselves are readable: containers run as other users
    passwords = {}
    for user in users:
        path = directory / f"{user}.password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o644)
        passwords[user] = path.read_text().strip()
    seed = directory / CALLOUT_SEED_FILE
    if not seed.exists():
        seed.write_bytes(new_account_seed())
        seed.chmod(0o644)
    issuer = key_pair(seed.read_bytes().strip()).public_key.decode()
    config = directory / "nats.conf"
    hashes = {u: hash_password(p) for u, p in passwords.items()}
    config.write_text(render_config(hashes, unrestricted, callout_issuer=issuer))
    config.chmod(0o644)
    return passwords


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "deploy/.secrets")
    ensure_credentials(target)
    print(f"==> NATS credentials in {target}/ (one password per service; {CLIENT_USER}.password for direct publishers)")
