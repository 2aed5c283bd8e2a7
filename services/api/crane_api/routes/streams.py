"""Live streams as Server-Sent Events: an app's logs (followed across its replicas by the
deployer, over the bus; the API never talks to Docker) and the events a user may watch (read
from the events stream, resumable with Last-Event-ID). A stream ends when the client goes, and
when the caller's token stops being valid (revoked, user deleted)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from crane_shared import subjects as s
from crane_shared.appspec import AppRecord
from crane_shared.events import Event
from crane_shared.live_logs import RENEW_SECONDS, FollowRequest, LeaseRequest, LogBatch, LogLine, logs_subject
from crane_shared.tokens import TokenError

from .. import sse
from ..deps import CurrentUser, Gateway, GatewayDep, OwnedApp, visible_app
from ..event_view import EventView
from ..shares import Held

router = APIRouter(tags=["streams"])
KEEPALIVE_SECONDS = 15.0
RECHECK_SECONDS = 10.0  # how often a long stream checks that its token still holds
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {sse.MEDIA_TYPE: {}, "text/plain": {}}, "description": "a stream"}
}


class _Caller:
    """The token a stream was opened with, checked again every RECHECK_SECONDS."""

    def __init__(self, gateway: Gateway, request: Request) -> None:
        self.gateway = gateway
        self.token = request.headers.get("authorization", "").partition(" ")[2]
        self.checked = time.monotonic()

    async def still_valid(self) -> bool:
        if time.monotonic() - self.checked < RECHECK_SECONDS:
            return True
        self.checked = time.monotonic()
        try:
            await self.gateway.auth.user(self.token)
        except TokenError:
            return False
        return True


def _streaming(body: AsyncIterator[str], media_type: str = sse.MEDIA_TYPE) -> StreamingResponse:
    return StreamingResponse(body, media_type=media_type, headers=sse.HEADERS)


@router.get("/apps/{app_id}/logs", responses=STREAM_RESPONSES, response_class=StreamingResponse)
async def stream_logs(
    request: Request,
    record: OwnedApp,
    user: CurrentUser,
    gateway: GatewayDep,
    follow: Annotated[bool, Query(description="keep sending new lines, from replicas that start later too")] = False,
    tail: Annotated[int, Query(ge=0, le=5000, description="lines of each replica's past output")] = 100,
    service: Annotated[str | None, Query(max_length=64, description="only this service's replicas")] = None,
    format: Annotated[Literal["sse", "text"], Query(description="sse, or text lines 'replica | line'")] = "sse",
) -> StreamingResponse:
    """The app's logs as Server-Sent Events (``event: line``, data: {replica, service, time,
    line}; a last ``event: end`` says why it ended), or as plain text with ``format=text``.
    With ``follow`` the stream goes on until the client disconnects."""
    if service is not None and record.spec.service(service) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"service: the app has no service {service!r}")
    share = gateway.shares.take("logs", user.id)  # 429 past the user's share; back when the stream ends
    try:
        return await _follow_logs(request, record, gateway, follow, tail, service, format, share)
    except BaseException:
        share.release()
        raise


async def _follow_logs(
    request: Request,
    record: AppRecord,
    gateway: Gateway,
    follow: bool,
    tail: int,
    service: str | None,
    format: str,
    share: Held,
) -> StreamingResponse:
    stream = uuid.uuid4().hex
    nc = gateway.bus.nc
    sub = await nc.subscribe(logs_subject(stream))  # before asking: no line may come first
    ask = FollowRequest(stream=stream, app_id=record.id, service=service, tail=tail, follow=follow)
    try:
        answer = await gateway.bus.request(s.RPC_APP_LOGS_FOLLOW, ask.model_dump(), timeout=10)
    except (NatsTimeout, NoRespondersError):
        await sub.unsubscribe()
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, "the deployer did not answer") from None
    if "error" in answer:
        await sub.unsubscribe()
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"the deployer cannot follow: {answer['error']}")
    caller = _Caller(gateway, request)
    as_text = format == "text"

    def render(line: LogLine) -> str:
        if as_text:
            return f"{line.replica} | {line.line}\n"
        return sse.message("line", line.model_dump_json())

    async def lines() -> AsyncIterator[str]:
        renew_at = time.monotonic() + RENEW_SECONDS
        end = "the client went away"
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=RENEW_SECONDS if follow else 30)
                except NatsTimeout:
                    if not follow:
                        end = "the deployer stopped sending"
                        break
                    if not as_text:
                        yield sse.KEEPALIVE
                    msg = None
                if msg is not None:
                    batch = LogBatch.model_validate_json(msg.data)
                    for line in batch.lines:
                        yield render(line)
                    if batch.end is not None:
                        end = batch.end
                        break
                if follow and time.monotonic() >= renew_at:
                    renew_at = time.monotonic() + RENEW_SECONDS
                    if not await caller.still_valid():
                        end = "the token is no longer valid"
                        break
                    if not await _renew(gateway, stream):
                        end = "the deployer stopped following (restarted?); follow again"
                        break
            if not as_text:
                yield sse.message("end", json.dumps({"reason": end}))
        finally:
            share.release()
            with anyio.CancelScope(shield=True):  # the client may be gone: clean up regardless
                await sub.unsubscribe()
                await _renew(gateway, stream, stop=True)

    return _streaming(lines(), "text/plain; charset=utf-8" if as_text else sse.MEDIA_TYPE)


async def _renew(gateway: Gateway, stream: str, stop: bool = False) -> bool:
    try:
        answer = await gateway.bus.request(
            s.RPC_APP_LOGS_LEASE, LeaseRequest(stream=stream, stop=stop).model_dump(), timeout=5
        )
    except Exception:  # noqa: BLE001 - an unreachable deployer ends the follow like a stopped one
        return False
    return bool(answer.get("following"))


@router.get("/events", responses=STREAM_RESPONSES, response_class=StreamingResponse)
async def stream_events(
    request: Request,
    user: CurrentUser,
    gateway: GatewayDep,
    app: Annotated[str | None, Query(max_length=64, description="only this app's events")] = None,
    follow: Annotated[bool, Query(description="keep the stream open for new events")] = True,
    after: Annotated[int | None, Query(ge=0, description="start after this event sequence")] = None,
    since: Annotated[
        float | None, Query(ge=0, le=7 * 24 * 3600, description="also the past events of this many seconds")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", include_in_schema=False)] = None,
) -> StreamingResponse:
    """The events the caller may see (their own apps'; an admin's: all) as Server-Sent Events:
    ``id`` is the event's sequence in the stream (send it back as Last-Event-ID, or ``after``,
    to resume without a gap or a repeat), ``event`` its type, ``data`` the event. Without
    ``after`` it starts with new events (``since``: and the last seconds' too; the default
    without ``follow`` is an hour)."""
    if app is not None:
        await visible_app(gateway, user, app)  # another's app answers 404, as a missing one
    view = EventView(user.id, user.is_admin, gateway.apps.owner_of, app)
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "Last-Event-ID: an event sequence (a number)")
        after = int(last_event_id)
    config = _start(after, since if since is not None else (0 if follow else 3600))
    share = gateway.shares.take("events", user.id)  # replays read the whole stream: a share per user
    try:
        last = (await gateway.bus.js.stream_info(s.EVENTS_STREAM)).state.last_seq
        sub = await gateway.bus.watch_events(config)
    except BaseException:
        share.release()
        raise
    caller = _Caller(gateway, request)

    async def events() -> AsyncIterator[str]:
        try:
            if not follow and last < (config.opt_start_seq or 0):
                return
            while True:
                try:
                    msg = await sub.next_msg(timeout=KEEPALIVE_SECONDS if follow else 2)
                except NatsTimeout:
                    if not follow:
                        return
                    yield sse.KEEPALIVE
                    if not await caller.still_valid():
                        return
                    continue
                seq = msg.metadata.sequence.stream
                try:
                    event = Event.model_validate_json(msg.data)
                except ValidationError:
                    event = None
                if event is not None and await view.shows(event):
                    yield sse.message(event.type, event.model_dump_json(), id=seq)
                if not follow and (seq >= last or msg.metadata.num_pending == 0):
                    return
                if follow and not await caller.still_valid():
                    return
        finally:
            share.release()
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    return _streaming(events())


def _start(after: int | None, since: float) -> ConsumerConfig:
    if after is not None:
        return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
    if since > 0:
        start = datetime.fromtimestamp(time.time() - since, UTC)
        return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start)
    return ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
