"""Live logs over the bus: the API asks the deployer (the only one that talks to Docker) to
follow an app's replicas, and the deployer publishes their lines to ``logs.<stream>`` (core NATS,
outside every stream; only the API may subscribe) until the follow ends or the API stops
renewing its lease.

    API ──rpc.app.logs.follow {stream, app_id, service, tail, follow}──> deployer
    API <──logs.<stream>  LogBatch {lines: [...]} ... LogBatch {end: "why"}── deployer
    API ──rpc.app.logs.lease {stream, stop}  (every few seconds; stop when the client goes)──>

``LineSplitter`` turns the Engine's chunks (which may cut a line anywhere) into lines with
their timestamps; it is the pure part, unit-tested without Docker.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from . import subjects as s
from .appspec import AppId

STREAM_ID_PATTERN = r"^[0-9a-f]{32}$"
LEASE_SECONDS = 20.0  # a follow not renewed for this long ends
RENEW_SECONDS = 5.0  # how often the API renews
MAX_LINE_CHARS = 16_384  # longer lines are cut (and say so)
MAX_BATCH_LINES = 200


def logs_subject(stream: str) -> str:
    return f"{s.LOGS_PREFIX}.{stream}"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FollowRequest(_Body):
    """Send the last ``tail`` lines of each replica (of one ``service``, or all) to
    ``logs.<stream>``; with ``follow``, keep sending new lines, from replicas that start later
    too, until the lease ends."""

    stream: str = Field(pattern=STREAM_ID_PATTERN)
    app_id: AppId
    service: str | None = Field(default=None, max_length=64)
    tail: int = Field(default=100, ge=0, le=5000)
    follow: bool = True


class LeaseRequest(_Body):
    """Keep following ``stream`` for another LEASE_SECONDS, or ``stop`` now."""

    stream: str = Field(pattern=STREAM_ID_PATTERN)
    stop: bool = False


class FollowAnswer(_Body):
    """``following``: the stream is (still) being sent."""

    following: bool


class LogLine(_Body):
    """One line of one replica's output."""

    replica: str
    service: str
    time: str | None = None  # the Engine's RFC 3339 timestamp
    line: str


class LogBatch(_Body):
    """Lines in the order each replica wrote them; ``end`` says why the stream ended (the last
    message of a stream)."""

    lines: list[LogLine] = Field(default_factory=list)
    end: str | None = None


class LineSplitter:
    """Whole lines out of one replica's chunks, each split into the Engine's timestamp and the
    text; a partial line waits for the next chunk (or ``flush``)."""

    def __init__(self, replica: str, service: str) -> None:
        self.replica = replica
        self.service = service
        self._pending = ""
        self.last_time: str | None = None

    def feed(self, chunk: bytes | str) -> list[LogLine]:
        text = chunk.decode(errors="replace") if isinstance(chunk, bytes) else chunk
        *whole, self._pending = (self._pending + text).split("\n")
        if len(self._pending) > MAX_LINE_CHARS:  # a line with no end in sight: send what there is
            whole.append(self._pending)
            self._pending = ""
        return [self._line(raw) for raw in whole]

    def flush(self) -> list[LogLine]:
        rest, self._pending = self._pending, ""
        return [self._line(rest)] if rest else []

    def _line(self, raw: str) -> LogLine:
        raw = raw.removesuffix("\r")
        stamp, sep, text = raw.partition(" ")
        when: str | None = None
        if sep and _looks_like_timestamp(stamp):
            when, raw = stamp, text
            self.last_time = stamp
        if len(raw) > MAX_LINE_CHARS:
            raw = raw[:MAX_LINE_CHARS] + f" [cut: {len(raw) - MAX_LINE_CHARS} more characters]"
        return LogLine(replica=self.replica, service=self.service, time=when, line=raw)


def _looks_like_timestamp(token: str) -> bool:
    # 2026-11-28T06:33:13.123456789Z (the Engine's timestamps=true prefix)
    return len(token) >= 20 and token[4] == "-" and token[7] == "-" and token[10] == "T" and token.endswith("Z")
