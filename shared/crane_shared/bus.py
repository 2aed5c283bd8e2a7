"""The one bus helper: connect to NATS, declare streams and buckets, publish events, and
consume them with durable consumers, explicit acks and a dead-letter path.

A consumer never crashes on a bad message: an invalid one is copied to
``deadletter.<subject>`` with the reason in its headers, an ``event.rejected`` event says what was
wrong, and the original is acked. A handler that fails is retried with a growing delay; after
``MAX_DELIVER`` attempts the message is dead-lettered the same way.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore
from prometheus_client import Counter
from pydantic import BaseModel, ValidationError

from . import subjects as s
from .buckets import OBJECT_STORES, creates, declares_streams, kv_buckets_created_by, object_stores_created_by
from .correlation import chain_of, current_chain, following
from .events import Event, EventRejected, InvalidEvent, new_event, parse_event
from .rpc import RPC_BODIES, RpcError

log = logging.getLogger("crane.bus")

Handler = Callable[[Event, BaseModel], Awaitable[None]]
EVENTS_HANDLED = Counter(
    "crane_events_handled_total",
    "Events consumed, by outcome (ok, failed, dead-lettered)",
    ["service", "subject", "outcome"],
)
# The NATS headers of the message being handled (a handler that needs one, e.g. the client's
# token, reads it here; the event itself never carries credentials).
MESSAGE_HEADERS: ContextVar[dict[str, str]] = ContextVar("MESSAGE_HEADERS", default={})  # noqa: B039
MAX_DELIVER = 5
CLIENT_REQUESTS_MAX_AGE_SECONDS = 24 * 3600
DEDUP_WINDOW_SECONDS = 120
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600
STREAM_MAX_BYTES = {
    s.EVENTS_STREAM: 1024**3,
    s.DEADLETTER_STREAM: 256 * 1024**2,
    s.CLIENT_STREAM: 256 * 1024**2,
}
MAX_MESSAGE_BYTES = 1024 * 1024  # NATS's own default payload limit
BIND_TIMEOUT_SECONDS = 60.0  # how long a service waits for a stream or store another makes
T = TypeVar("T")


def inbox_prefix(service: str) -> str:
    return f"_INBOX_{service}"


class Bus:
    """A connection to NATS/JetStream on behalf of one named service."""

    def __init__(self, nc: Client, service: str) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.service = service
        self._buckets: dict[str, KeyValue] = {}
        self._objects: dict[str, ObjectStore] = {}

    @classmethod
    async def connect(
        cls,
        url: str,
        service: str,
        *,
        credentials: tuple[str, str] | None = None,
        connect_timeout: float = 30,
    ) -> Bus:
        """Connect (as ``credentials`` = (user, password) when NATS requires them), retrying until
        NATS answers or ``connect_timeout`` passes; then declare the streams and the buckets this
        service creates (buckets.py), or wait for the streams another declares."""
        deadline = asyncio.get_running_loop().time() + connect_timeout
        user, password = credentials or (None, None)
        while True:
            try:
                nc = await nats.connect(
                    url,
                    user=user,
                    password=password,
                    # A private inbox: no other NATS user may read this service's replies.
                    inbox_prefix=inbox_prefix(service),
                    name=f"crane-{service}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    drain_timeout=5,
                    allow_reconnect=True,
                )
                break
            except Exception as exc:  # noqa: BLE001 - any connect failure is retried the same way
                if asyncio.get_running_loop().time() > deadline:
                    raise ConnectionError(f"cannot reach NATS at {url}: {exc}") from exc
                log.info("waiting for NATS at %s (%s)", url, exc)
                await asyncio.sleep(0.5)
        bus = cls(nc, service)
        await bus.declare()
        return bus

    async def declare(self) -> None:
        """Create (or update) the streams, if this service declares them, and the buckets it
        creates; the others' are bound when first used."""
        if not declares_streams(self.service):
            for name in (s.EVENTS_STREAM, s.DEADLETTER_STREAM, s.CLIENT_STREAM):
                await self._bound(f"stream {name}", functools.partial(self.js.stream_info, name))
            await self._declare_stores()
            return
        # Every stream is bounded: the events and dead letters lose their oldest past their
        # size; client intents are refused past theirs (a client cannot push out another's).
        streams = {
            s.EVENTS_STREAM: (s.EVENTS_STREAM_SUBJECTS, RetentionPolicy.LIMITS, EVENTS_MAX_AGE_SECONDS),
            s.DEADLETTER_STREAM: (s.DEADLETTER_STREAM_SUBJECTS, RetentionPolicy.LIMITS, EVENTS_MAX_AGE_SECONDS),
            s.CLIENT_STREAM: (s.CLIENT_STREAM_SUBJECTS, RetentionPolicy.WORK_QUEUE, CLIENT_REQUESTS_MAX_AGE_SECONDS),
        }
        for name, (stream_subjects, retention, max_age) in streams.items():
            limit = STREAM_MAX_BYTES[name]
            await self._ensure_stream(
                StreamConfig(
                    name=name,
                    subjects=stream_subjects,
                    retention=retention,
                    storage=StorageType.FILE,
                    duplicate_window=DEDUP_WINDOW_SECONDS,
                    max_age=max_age,
                    max_bytes=limit,
                    max_msg_size=MAX_MESSAGE_BYTES,
                    discard=DiscardPolicy.NEW if name == s.CLIENT_STREAM else DiscardPolicy.OLD,
                )
            )
        await self._declare_stores()

    async def _declare_stores(self) -> None:
        """The buckets and object stores this service makes (buckets.py)."""
        for bucket in kv_buckets_created_by(self.service):
            await self.kv(bucket)
        for store in object_stores_created_by(self.service):
            await self.objects(store)

    async def _bound(self, what: str, bind: Callable[[], Awaitable[T]]) -> T:
        """``bind()``'s store or stream, waiting while its creator has not made it yet."""
        deadline = asyncio.get_running_loop().time() + BIND_TIMEOUT_SECONDS
        waited = False
        while True:
            try:
                return await bind()
            except NotFoundError:
                if asyncio.get_running_loop().time() > deadline:
                    raise ConnectionError(f"{what} does not exist; the service that makes it is not running") from None
                if not waited:
                    log.info("waiting for %s (another service makes it)", what)
                    waited = True
                await asyncio.sleep(0.2)

    async def _ensure_stream(self, config: StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except BadRequestError:
            await self.js.update_stream(config)

    async def kv(self, bucket: str) -> KeyValue:
        """The key-value bucket ``bucket`` (file storage): made by its creator (buckets.py),
        bound by everyone else."""
        if bucket not in self._buckets:
            if creates(self.service, bucket):
                self._buckets[bucket] = await self.js.create_key_value(
                    KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE)
                )
            else:
                self._buckets[bucket] = await self._bound(f"bucket {bucket}", lambda: self.js.key_value(bucket))
        return self._buckets[bucket]

    async def objects(self, bucket: str) -> ObjectStore:
        """The object store ``bucket`` (file storage), created on first use."""
        if bucket not in self._objects:
            if not creates(self.service, bucket):
                self._objects[bucket] = await self._bound(
                    f"object store {bucket}", lambda: self.js.object_store(bucket)
                )
                return self._objects[bucket]
            try:
                self._objects[bucket] = await self.js.object_store(bucket)
                await self._keep_store_limit(bucket)
            except NotFoundError:
                access = OBJECT_STORES.get(bucket)
                config = ObjectStoreConfig(
                    bucket=bucket,
                    storage=StorageType.FILE,
                    ttl=access.ttl if access else None,
                    max_bytes=access.max_bytes if access else None,
                )
                self._objects[bucket] = await self.js.create_object_store(bucket, config)
        return self._objects[bucket]

    async def _keep_store_limit(self, bucket: str) -> None:
        """An object store made before it had a size limit (or with another) gets the table's."""
        access = OBJECT_STORES.get(bucket)
        if access is None or access.max_bytes is None:
            return
        info = await self.js.stream_info(f"OBJ_{bucket}")
        if info.config.max_bytes != access.max_bytes:
            info.config.max_bytes = access.max_bytes
            await self.js.update_stream(info.config)

    async def publish(self, event: Event) -> None:
        """Publish to the stream, deduplicated by the event id (Nats-Msg-Id)."""
        await self.js.publish(
            event.type,
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": event.id},
        )

    async def emit(self, subject: str, payload: BaseModel, **attrs: Any) -> Event:
        """Build an event from ``payload`` with this service as source, in the chain the caller
        works for (correlation.py), and publish it."""
        attrs.setdefault("correlationid", current_chain())
        event = new_event(subject, payload, source=f"crane/{self.service}", **attrs)
        await self.publish(event)
        return event

    async def consume(
        self,
        durable: str,
        filter_subject: str,
        handlers: Mapping[str, Handler],
        stop: asyncio.Event,
        *,
        ack_wait: float = 60,
    ) -> None:
        """Process ``filter_subject`` with a durable pull consumer until ``stop`` is set.

        Messages on subjects without a handler are acknowledged and skipped; subjects with no
        event type at all are dead-lettered.
        """
        sub = await self.js.pull_subscribe(
            filter_subject,
            durable=durable,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=ack_wait,
                max_deliver=MAX_DELIVER + 1,
            ),
        )
        log.info("%s consuming %s as %s", self.service, filter_subject, durable)
        try:
            while not stop.is_set():
                try:
                    messages = await sub.fetch(batch=16, timeout=1)
                except TimeoutError:  # nats' TimeoutError is one too: nothing to fetch
                    continue
                except Exception as exc:  # noqa: BLE001 - reconnects are handled by nats-py; keep going
                    log.warning("fetch on %s failed: %r", durable, exc)
                    await asyncio.sleep(0.5)
                    continue
                for msg in messages:
                    await self._deliver(msg, durable, handlers)
        finally:
            await sub.unsubscribe()

    async def _deliver(self, msg: Msg, durable: str, handlers: Mapping[str, Handler]) -> None:
        meta = msg.metadata
        handler = handlers.get(msg.subject)
        try:
            event, payload = parse_event(msg.data, msg.subject, fallback_id=f"seq-{meta.sequence.stream}")
        except InvalidEvent as exc:
            await self._dead_letter(msg, durable, str(exc))
            return
        if handler is None:
            await msg.ack()
            return
        headers = MESSAGE_HEADERS.set(dict(msg.headers or {}))
        try:
            with following(chain_of(event)):  # what the handler publishes continues the event's chain
                await handler(event, payload)
        except InvalidEvent as exc:
            await self._dead_letter(msg, durable, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a failing handler must not stop the consumer
            log.exception("%s failed on %s (attempt %d)", durable, msg.subject, meta.num_delivered)
            EVENTS_HANDLED.labels(self.service, msg.subject, "failed").inc()
            if meta.num_delivered >= MAX_DELIVER:
                await self._dead_letter(msg, durable, f"handler failed {MAX_DELIVER} times: {exc}")
            else:
                await msg.nak(delay=min(0.5 * 2**meta.num_delivered, 10))
            return
        finally:
            MESSAGE_HEADERS.reset(headers)
        EVENTS_HANDLED.labels(self.service, msg.subject, "ok").inc()
        await msg.ack()

    async def _dead_letter(self, msg: Msg, durable: str, reason: str) -> None:
        """Keep the original under deadletter.<subject>, say why in event.rejected, ack it."""
        EVENTS_HANDLED.labels(self.service, msg.subject, "dead-lettered").inc()
        seq = msg.metadata.sequence.stream
        # Sequences are per stream: events keep the short id, other streams add their name.
        ref = str(seq) if msg.metadata.stream == s.EVENTS_STREAM else f"{msg.metadata.stream}-{seq}"
        target = s.deadletter_subject(msg.subject)
        log.warning("dead-lettering %s #%d for %s: %s", msg.subject, seq, durable, reason)
        headers = {
            "Nats-Msg-Id": f"dlq-{ref}",
            "Crane-Reason": reason[:4000],
            "Crane-Original-Subject": msg.subject,
            "Crane-Consumer": durable,
        }
        await self.js.publish(target, msg.data, headers=headers)
        rejected = EventRejected(
            original_subject=msg.subject, consumer=durable, reason=reason, deadletter_subject=target
        )
        await self.emit(s.EVENT_REJECTED, rejected, id=f"rejected-{ref}")
        await msg.ack()

    async def watch_events(self, config: ConsumerConfig) -> JetStreamContext.PushSubscription:
        """Read the events stream from where ``config`` says (an ordered consumer of one's own,
        gone with the subscription); take messages with ``next_msg``."""
        return await self.js.subscribe(">", stream=s.EVENTS_STREAM, ordered_consumer=True, config=config)

    async def request(self, subject: str, body: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Core NATS request/reply with JSON bodies (used for logs and stats)."""
        reply = await self.nc.request(subject, json.dumps(body).encode(), timeout=timeout)
        answer: dict[str, Any] = json.loads(reply.data)
        return answer

    async def serve(self, subject: str, answer: Callable[[Any], Awaitable[BaseModel]]) -> None:
        """Answer requests on ``subject`` (a queue group, so replicas share the work) with the
        models rpc.py gives it: ``answer`` gets the request as its model and returns the answer
        model, or an RpcError. A body the model refuses is answered with the field and why,
        unasked; an answer of another model is not sent (the asker hears of an internal error)."""
        request_model, answer_model = RPC_BODIES[subject]

        async def on_request(msg: Msg) -> None:
            try:
                result = await answer(request_model.model_validate_json(msg.data))
                if not isinstance(result, (answer_model, RpcError)):
                    log.error("%s answered %s, not %s", subject, type(result).__name__, answer_model.__name__)
                    result = RpcError(error=f"{self.service} failed to answer {subject} (an internal error)")
            except ValidationError as exc:  # every field that is wrong, named
                problems = (f"{'.'.join(map(str, p['loc'])) or 'body'}: {p['msg']}" for p in exc.errors())
                result = RpcError(error="; ".join(problems))
            except Exception as exc:  # noqa: BLE001 - every request gets an answer
                result = RpcError(error=str(exc))
            await msg.respond(result.model_dump_json(exclude_none=True).encode())

        await self.nc.subscribe(subject, queue=f"crane-{self.service}", cb=on_request)

    async def close(self) -> None:
        await self.nc.drain()
