"""The CRANE REST API as the CLI uses it: one client with the saved token, errors turned into
one sentence a user can act on, and Server-Sent Events read as (id, event, data)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from . import config

API_PREFIX = "/api/v1"


class CliError(Exception):
    """What went wrong, said for the user; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class SseMessage:
    id: str | None
    event: str
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def describe(response: httpx.Response) -> str:
    """The API's error body in a line or a few: FastAPI's detail (a text, field errors with their
    location, or the admission policy's reasons)."""
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        return f"HTTP {response.status_code}: {response.text.strip()[:500]}"
    if isinstance(detail, list):
        lines = []
        for problem in detail:
            loc = ".".join(str(x) for x in problem.get("loc", []) if x != "body")
            lines.append(f"{loc}: {problem.get('msg')}" if loc else str(problem.get("msg")))
        return "\n".join(lines)
    if isinstance(detail, dict):
        reasons = detail.get("reasons") or []
        return "\n".join([str(detail.get("message", "refused")), *(f"  - {r}" for r in reasons)])
    return str(detail)


class Api:
    def __init__(self, base: str, token: str | None = None, timeout: float = 60) -> None:
        self.base = base.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.base + API_PREFIX, headers=headers, timeout=timeout)

    @classmethod
    def logged_in(cls, api: str | None = None) -> Api:
        saved = config.load()
        if saved is None:
            raise CliError("you are not logged in: run crane login")
        return cls(api or saved.api, saved.token)

    def call(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 202, 204), **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError:
            raise CliError(
                f"cannot reach the CRANE API at {self.base} (is the suite up? make up; or crane login --api URL)"
            ) from None
        except httpx.TimeoutException:
            raise CliError(f"the CRANE API at {self.base} did not answer in time") from None
        self.check(response, ok)
        return response

    def check(self, response: httpx.Response, ok: tuple[int, ...] = (200, 201, 202, 204)) -> None:
        if response.status_code in ok:
            return
        if response.status_code == 401:
            raise CliError("your login has expired or was revoked: run crane login", code=2)
        if response.status_code == 404:
            raise CliError(describe(response), code=3)
        raise CliError(describe(response))

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.call(method, path, **kwargs).json()

    def events(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> Iterator[SseMessage]:
        """The Server-Sent Events of ``path``, as they come, until the server ends the stream."""
        timeout = httpx.Timeout(30, read=None)
        try:
            with self.http.stream("GET", path, params=params, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    self.check(response, ())
                if on_open is not None:
                    on_open()
                yield from read_sse(response.iter_lines())
        except httpx.ConnectError:
            raise CliError(f"cannot reach the CRANE API at {self.base}") from None
        except httpx.RemoteProtocolError:
            raise CliError("the CRANE API closed the stream") from None


def read_sse(lines: Iterator[str]) -> Iterator[SseMessage]:
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                yield SseMessage(fields.get("id"), fields.get("event", "message"), fields["data"])
            fields = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        fields[key] = f"{fields[key]}\n{value}" if key == "data" and key in fields else value
