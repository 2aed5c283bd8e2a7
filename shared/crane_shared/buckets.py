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


@dataclass(frozen=True)
class Access:
    creator: str
    writers: tuple[str, ...]  # besides the creator
    readers: tuple[str, ...] = ()

    def writes(self, service: str) -> bool:
        return service == self.creator or service in self.writers

    def reads(self, service: str) -> bool:
        return self.writes(service) or service in self.readers


STREAMS_OWNER = "api"

KV_BUCKETS: dict[str, Access] = {
    # App records: the API writes what users ask, the deployer the status, and both the
    # per-owner admission lease.
    s.APPS_BUCKET: Access("api", ("deployer",), ("monitor-config", "policy")),
    s.USERS_BUCKET: Access("api", (), ("deployer", "policy")),
    s.CONFIG_BUCKET: Access("api", (), ("deployer",)),  # the deployer checks revoked tokens
    s.KEYS_BUCKET: Access("api", (), ("deployer",)),  # signs (API), verifies (deployer)
    s.WEBHOOK_BUCKET: Access("alert-bridge", (), ("monitor-config",)),
    s.POLICIES_BUCKET: Access("policy", ("api",), ()),  # the policy service seeds the shipped ones
    s.DECISIONS_BUCKET: Access("policy", (), ("api",)),
    s.ALERTS_BUCKET: Access("alert-bridge", (), ("api",)),
    s.SCANS_BUCKET: Access("deployer", (), ("api",)),
    s.BUILDS_BUCKET: Access("deployer", (), ("api",)),
}

OBJECT_STORES: dict[str, Access] = {
    # Uploads through the API; NATS clients' uploads, claimed by the deployer.
    s.CONTEXTS_OBJECTS: Access("api", ("deployer",)),
    s.FILES_OBJECTS: Access("api", ("deployer",)),  # the deployer also removes an app's files
    s.UPLOADS_OBJECTS: Access("deployer", ()),  # the client user may publish into it, nothing more
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
