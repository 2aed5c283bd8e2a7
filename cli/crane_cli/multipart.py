"""The upload as one multipart/form-data body, sent in chunks so progress can be shown (with
its Content-Length: CRANE refuses a multipart upload without one)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

from .project import Part

CHUNK = 64 * 1024


def encode(parts: list[Part]) -> tuple[bytes, str]:
    """The body and its Content-Type."""
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for part in parts:
        name = part.name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        filename = part.filename.replace('"', "%22").replace("\r", "").replace("\n", "")
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        chunks += [part.data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def chunked(body: bytes, sent: Callable[[int], None]) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        piece = body[start : start + CHUNK]
        yield piece
        sent(len(piece))
