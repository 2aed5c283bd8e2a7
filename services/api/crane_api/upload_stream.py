"""Multipart uploads read as they arrive, in bounded memory: each part is counted while it
streams and refused (413, naming the part) the moment it passes its cap; large parts (build
contexts, folders) go to a spool folder on disk, never to memory or the API's tmpfs; the whole
request is counted too, whatever its Content-Length said.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fastapi import HTTPException
from python_multipart.multipart import MultipartParser, parse_options_header

TOO_LARGE = 413
SPOOLED_PREFIXES = ("build.", "bind.")  # parts kept on disk; the others are small and kept in memory


class UploadRefused(Exception):
    """A part or the request passed its cap, or the body is not multipart as it says."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def http(self) -> HTTPException:
        return HTTPException(self.code, self.detail)


@dataclass
class StreamedPart:
    name: str
    size: int = 0
    data: bytearray | None = None  # small parts
    path: Path | None = None  # spooled parts
    _file: IO[bytes] | None = field(default=None, repr=False)

    def content(self) -> bytes | Path:
        return self.path if self.path is not None else bytes(self.data or b"")


@dataclass
class _State:
    spool: Path
    cap_of: Callable[[str], int]
    max_parts: int
    parts: list[StreamedPart] = field(default_factory=list)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    disposition: bytes = b""
    current: StreamedPart | None = None
    error: UploadRefused | None = None


def _callbacks(state: _State) -> dict[str, Callable[..., None]]:
    def part_begin() -> None:
        state.disposition = b""

    def header_field(data: bytes, start: int, end: int) -> None:
        state.header_field += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def header_end() -> None:
        if bytes(state.header_field).lower() == b"content-disposition":
            state.disposition = bytes(state.header_value)
        state.header_field.clear()
        state.header_value.clear()

    def headers_finished() -> None:
        _, options = parse_options_header(state.disposition)
        name = options.get(b"name", b"").decode(errors="replace")
        if not name:
            raise UploadRefused(422, "a part has no name (Content-Disposition: form-data; name=...)")
        if len(state.parts) >= state.max_parts:
            raise UploadRefused(422, f"more than {state.max_parts} parts")
        part = StreamedPart(name)
        if name.startswith(SPOOLED_PREFIXES):
            part.path = state.spool / f"part-{len(state.parts)}"
            part._file = part.path.open("wb")
        else:
            part.data = bytearray()
        state.parts.append(part)
        state.current = part

    def part_data(data: bytes, start: int, end: int) -> None:
        part = state.current
        assert part is not None
        part.size += end - start
        cap = state.cap_of(part.name)
        if part.size > cap:
            raise UploadRefused(TOO_LARGE, f"{part.name}: larger than {cap} bytes")
        if part._file is not None:
            part._file.write(data[start:end])
        elif part.data is not None:
            part.data += data[start:end]

    def part_end() -> None:
        if state.current is not None and state.current._file is not None:
            state.current._file.close()
            state.current._file = None
        state.current = None

    return {
        "on_part_begin": part_begin,
        "on_header_field": header_field,
        "on_header_value": header_value,
        "on_header_end": header_end,
        "on_headers_finished": headers_finished,
        "on_part_data": part_data,
        "on_part_end": part_end,
    }


async def read_parts(
    content_type: str,
    body: AsyncIterator[bytes],
    spool: Path,
    cap_of: Callable[[str], int],
    max_request: int,
    max_parts: int,
) -> list[StreamedPart]:
    """The parts of a multipart body as it streams in; UploadRefused (413 or 422) as soon as
    a part passes ``cap_of(its name)``, the body passes ``max_request``, or it is malformed."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise UploadRefused(422, "not a valid multipart upload: no boundary")
    state = _State(spool, cap_of, max_parts)
    parser = MultipartParser(boundary, _callbacks(state))  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > max_request:
                raise UploadRefused(TOO_LARGE, f"the upload is larger than {max_request} bytes")
            try:
                parser.write(chunk)
            except UploadRefused:
                raise
            except Exception as exc:  # noqa: BLE001 - python-multipart's parse errors
                raise UploadRefused(422, f"not a valid multipart upload: {exc}") from None
        parser.finalize()
    finally:
        for part in state.parts:
            if part._file is not None:
                part._file.close()
    if state.current is not None:
        raise UploadRefused(422, "not a valid multipart upload: it ends inside a part")
    return state.parts
