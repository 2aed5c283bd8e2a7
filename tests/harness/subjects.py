"""NATS subject matching as the server does it, and what a client connection may and may not
touch, written out by hand (never derived from the code under test)."""

from __future__ import annotations


def matches(pattern: str, subject: str) -> bool:
    """Whether ``subject`` falls under ``pattern``: ``*`` is one token, ``>`` one or more."""
    wanted, given = pattern.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(given) > index
        if index >= len(given) or (token != "*" and token != given[index]):
            return False
    return len(given) == len(wanted)


def allowed(patterns: list[str], subject: str) -> bool:
    return any(matches(pattern, subject) for pattern in patterns)


# A client (the shared `client` NATS user, or a watcher admitted with a token) publishes these...
CLIENT_MAY_PUBLISH = [
    "client.app.created",
    "client.app.updated",
    "client.app.deleted",
    "client.app.restart_requested",
    "$O.crane_uploads.C.chunk-id",  # an upload's chunks
    "$O.crane_uploads.M.bmFtZQ",  # and its metadata
]
# ...and none of these: facts, intents only services send, other stores, and any JetStream API
# call (reading a stream or bucket, purging, deleting, making consumers).
CLIENT_MAY_NOT_PUBLISH = [
    "app.created",
    "app.deployed",
    "app.kill_requested",
    "client.app.kill_requested",
    "container.died",
    "deadletter.app.created",
    "logs.shop-1",
    "view.ada@example.com.app",
    "$KV.crane_users.account.u-1",
    "$KV.crane_apps.app.shop-1",
    "$O.crane_files.C.chunk-id",
    "$O.crane_contexts.M.bmFtZQ",
    "$JS.API.STREAM.PURGE.CRANE_EVENTS",
    "$JS.API.STREAM.DELETE.KV_crane_users",
    "$JS.API.STREAM.PURGE.OBJ_crane_uploads",
    "$JS.API.STREAM.MSG.GET.OBJ_crane_uploads",
    "$JS.API.STREAM.MSG.DELETE.OBJ_crane_uploads",
    "$JS.API.DIRECT.GET.KV_crane_users",
    "$JS.API.CONSUMER.CREATE.CRANE_EVENTS",
    "$JS.API.CONSUMER.CREATE.OBJ_crane_uploads",
    "$JS.API.CONSUMER.DELETE.CRANE_EVENTS.deployer",
    "$JS.API.STREAM.INFO.OBJ_crane_uploads",
]
