"""Render docs/events.md from the event models: run ``python -m crane_shared.events_doc``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from . import subjects as s
from .appspec import AppRecord
from .buckets import KV_BUCKETS, OBJECT_STORES, STREAMS_OWNER
from .builds import AppBuilds
from .event_examples import EXAMPLES
from .events import PAYLOADS, Event
from .monitoring_state import AlertState, AppDecisions
from .rpc import RPC_BODIES
from .scan import AppScan, ScanReport
from .storage import OwnerUsage, StoredObject
from .store import AdmissionLease
from .users import LoginAttempts, User

# The models of the values the buckets hold (buckets.py names them beside each key).
BUCKET_VALUES: tuple[type[BaseModel], ...] = (
    AppRecord,
    AdmissionLease,
    User,
    LoginAttempts,
    AlertState,
    AppDecisions,
    ScanReport,
    AppScan,
    AppBuilds,
    StoredObject,
    OwnerUsage,
)

INTRO = """# CRANE events

Generated from `shared/crane_shared/events.py` by `make docs`; a unit test fails when this
file and the models disagree.

Every message is a JSON envelope with CloudEvents attribute names. `type` equals the NATS subject.
All subjects below live in the JetStream stream `{stream}` (file storage, deduplicated by `id`
through the `Nats-Msg-Id` header for {window} s). A message that a consumer cannot accept is
copied to `deadletter.<subject>` (stream `{dlq}`) with the headers `Crane-Reason`,
`Crane-Original-Subject` and `Crane-Consumer`, and an `event.rejected` event says why.

Intents (`app.created`, `app.updated`, `app.deleted`, `app.restart_requested`) are published by
CRANE's services (people publish them as `client.*`, below); the rest are facts published by
CRANE's services. A direct publisher may leave out
`id` (the stream sequence is used), `time`, `source` and `type`.

## Envelope

```json
{envelope}
```

### Causal chains

Every event of one causal chain carries the same `correlationid`: the `id` of the event that
began it (which has none itself). A user's request (`app.created`, `app.updated`, ...), an
alert's episode (`alert-<fingerprint>-<start>`, shared by its firing and its resolution) and a
replica that died on its own each begin one. Whatever a service publishes while it handles an
event continues that event's chain (the policy's `policy.decision` and `app.updated` after an
alert, `monitoring.updated` after `app.deployed`); the deployer's builds, scans and status
changes (`app.deployed`, `app.scaled`, ...) continue the chain of the last change asked of the
app. So `alert.firing` -> `policy.decision` -> `app.updated` -> `app.scaled` share one id, and
the console's timeline groups by it.

## Publishing straight to NATS

People connect as the NATS user `client` (its password is in
`deploy/.secrets/<suite>/client.password`) and publish `client.` + an intent's subject
(`client.app.created`, `client.app.updated`, ...; stream `{client_stream}`) with their API token
(from `POST /api/v1/auth/login`) in the `Crane-Token` header. The deployer checks the token,
that the app is the user's and the admission policy, then republishes it as the intent; the
owner is always the token's user. A refused intent is dead-lettered with the reason.

Files go with an intent through the object store `{uploads}`: put each one under a name made by
`crane_shared.uploads.upload_name(<your user id>)` (`u-<owner key>-<random>`; your id is
the `id` of `GET /api/v1/users/me`) with
`crane_shared.uploads.put_upload`, which writes the object store's own layout with publishes
alone (the client user may write that store, never read, list or purge it). Then name the
upload in the spec where the REST API would put a digest or an id: a service's
`build.context` (a tar or tar.gz of the context), `seeds.<volume>` (a folder's tar),
`secrets.<name>` or `configs.<name>` (the file's content). The deployer claims each upload:
it must carry your owner key, pass the limits and path checks of a multipart upload, and exist
(unclaimed uploads expire after an hour); it moves into CRANE's stores and the app's spec names
it by digest or id. A problem dead-letters the intent naming the field
(`data.spec.secrets.pw: the upload '...' is not yours`).

```python
js = (await nats.connect(url, user="client", password=password)).jetstream()
me = "u-5f0c8a3e9b2d4c7e8f1a6b3d2c9e0f14"  # GET /api/v1/users/me: "id"
context = await put_upload(js, "{uploads}", me, open("web.tgz", "rb").read())
secret = await put_upload(js, "{uploads}", me, b"s3cret")
web = {{"name": "web", "build": {{"context": context}}, "ports": ["8080"], "secrets": ["db_password"]}}
spec = {{"name": "shop", "services": [web], "secrets": {{"db_password": secret}}}}
intent = json.dumps({{"data": {{"spec": spec}}}}).encode()
await js.publish("client.app.created", intent, headers={{"Crane-Token": token}})
```

## Watching with NATS directly

Connect with your API token as the NATS token (no user, no password): NATS asks the API (its
auth callout, `{callout}`) who you are, and admits you, until the token expires, with the
client user's rights plus your own view of the events: `{view}.<owner key>.<event type>`, the
events of your apps (an admin may read every view). `GET /api/v1/users/me` gives its subject as
`events_subject`; any other view, and a bad, expired or revoked token, are refused.
`examples/watch_events.py` prints them as they come.

```python
nc = await nats.connect("nats://localhost:4222", token=token)
async for msg in (await nc.subscribe(me["events_subject"])).messages:
    print(json.loads(msg.data)["type"])
```

Request/reply subjects (core NATS, outside the streams) are listed after the buckets, with
their bodies (`shared/crane_shared/rpc.py`).
"""


def render() -> str:
    envelope = Event(
        id="0f5c1e2a9b7d4c3e8a6f1b2c3d4e5f60",
        time=datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        type="app.deleted",
        source="crane/api",
        subject="shop-7",
        correlationid="8e1d0c4b2a7f4e19b3c5d6a7e8f90a1b",
        data={"app_id": "shop-7"},
    )
    envelope_json = json.dumps(envelope.model_dump(mode="json"), indent=2)
    parts = [
        INTRO.format(
            stream=s.EVENTS_STREAM,
            dlq=s.DEADLETTER_STREAM,
            window=120,
            envelope=envelope_json,
            client_stream=s.CLIENT_STREAM,
            uploads=s.UPLOADS_OBJECTS,
            callout=s.AUTH_CALLOUT,
            view=s.VIEW_PREFIX,
        )
    ]
    parts.append(_stores())
    parts.append(_values())
    parts.append(_rpc())
    for subject, model in PAYLOADS.items():
        schema = json.dumps(model.model_json_schema(), indent=2, sort_keys=True)
        example = json.dumps(EXAMPLES[subject], indent=2)
        doc = (model.__doc__ or "").strip().replace("\n    ", "\n")
        parts.append(
            f"## `{subject}`\n\n{doc}\n\nExample `data`:\n\n```json\n{example}\n```\n\n"
            f"<details><summary>Schema of <code>data</code></summary>\n\n```json\n{schema}\n```\n\n</details>\n"
        )
    return "\n".join(parts)


def _stores() -> str:
    """The buckets and object stores: who makes, writes and reads each (the same table the NATS
    permissions come from), and what each key holds."""
    rows = []
    for kind, stores in (("bucket", KV_BUCKETS), ("object store", OBJECT_STORES)):
        for name, access in stores.items():
            keys = "<br>".join(f"`{key}`: {value}" for key, value in access.keys)
            writers = ", ".join(access.writers) or "-"
            readers = ", ".join(access.readers) or "-"
            rows.append(f"| `{name}` ({kind}) | {access.creator} | {writers} | {readers} | {keys} |")
    return (
        "## Buckets and object stores\n\n"
        "State lives in JetStream key-value buckets and object stores. Each has one creator (the only\n"
        "service that makes it and may change its configuration), its writers and its readers; NATS\n"
        "permits nothing else (`shared/crane_shared/buckets.py`, the table below, is where the\n"
        f"permissions come from). The streams are declared by {STREAMS_OWNER} alone.\n\n"
        "| store | creator | also writes | reads | keys |\n| --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )


def _values() -> str:
    """The JSON schema of each bucket value model."""
    out = ["### Bucket values\n\nThe JSON a key holds, by the model the table names.\n"]
    for model in BUCKET_VALUES:
        doc = (model.__doc__ or "").strip().replace("\n    ", "\n")
        schema = json.dumps(model.model_json_schema(), indent=2, sort_keys=True)
        out.append(
            f"#### `{model.__name__}`\n\n{doc}\n\n"
            f"<details><summary>Schema</summary>\n\n```json\n{schema}\n```\n\n</details>\n"
        )
    return "\n".join(out)


def _rpc() -> str:
    """The request/reply subjects with their request and answer models (rpc.py)."""
    out = [
        "## Request/reply\n\nCore NATS requests between services (not in the streams): the answerer "
        'checks the request against its model and answers `{"error": "<field>: <why>"}` when '
        "it does not fit, or when it cannot do it.\n"
    ]
    for subject, (request, answer) in RPC_BODIES.items():
        doc = (request.__doc__ or "").strip().replace("\n    ", "\n")
        schemas = {
            "request": request.model_json_schema(),
            "answer": answer.model_json_schema(),
        }
        body = json.dumps(schemas, indent=2, sort_keys=True)
        out.append(
            f"### `{subject}`\n\n{doc} Answer: `{answer.__name__}`.\n\n"
            f"<details><summary>Schemas</summary>\n\n```json\n{body}\n```\n\n</details>\n"
        )
    return "\n".join(out)


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/events.md")
    target.write_text(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
