"""Uploads that cannot hurt the API: a part past its cap and a request past the upload limit
answer 413 while they stream, in bounded memory, and the API goes on (no restart); a JSON body
is counted too, declared or chunked."""

from __future__ import annotations

import select
import socket
from pathlib import Path

import httpx

MB = 1024 * 1024


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _send_until_answered(port: int, head: bytes, part_head: bytes, total: int, chunk: int = MB) -> tuple[str, int]:
    """Send a request whose body is ``part_head`` then zeros up to ``total`` bytes, a chunk at a
    time, reading the answer as soon as the server gives one: (status line, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall(head + part_head)
        sent = len(part_head)
        zeros = bytes(chunk)
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(zeros[: min(chunk, total - sent)])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += min(chunk, total - sent)
        answer = sock.recv(65536).decode(errors="replace")
        return answer.split("\r\n", 1)[0], sent
    finally:
        sock.close()


def _multipart_head(token: str, length: int) -> tuple[bytes, bytes]:
    boundary = "b0undary"
    head = (
        f"POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="build.web"; filename="web.tar"\r\n'
        "Content-Type: application/x-tar\r\n\r\n"
    ).encode()
    return head, part


def test_a_400_mb_part_and_a_2_gb_request_answer_413_in_bounded_memory(suite, user):
    api = suite.procs["api"]
    assert api.popen is not None
    pid = api.popen.pid
    token = user.headers["Authorization"].removeprefix("Bearer ")
    before = _peak_rss(pid)

    # 2 GB declared: refused from its headers alone.
    head, part = _multipart_head(token, 2 * 1024 * MB)
    status, sent = _send_until_answered(suite.api_port, head, part, 2 * 1024 * MB)
    assert " 413 " in status, status
    assert sent < 64 * MB, sent

    # A 400 MB part inside a request the limit would allow by its size alone (200 MB declared,
    # the rest never sent): refused naming the part once it passes the build part's cap.
    head, part = _multipart_head(token, 200 * MB)
    status, sent = _send_until_answered(suite.api_port, head, part, 200 * MB)
    print(f"a 400 MB part was refused after {sent / MB:.0f} MB: {status}")
    assert " 413 " in status, status
    assert sent < 120 * MB, sent  # it stopped at the part's cap (about 85 MB), not at the end

    # A JSON body sent in chunks with no length: counted, refused past 1 MiB.
    def chunks():
        for _ in range(64):
            yield b" " * MB

    refused = httpx.post(
        f"{suite.api_url}/api/v1/apps",
        content=chunks(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert refused.status_code == 413, refused.text

    assert api.running and api.popen.pid == pid, "the API was restarted or died"
    assert httpx.get(f"{suite.api_url}/health").status_code == 200
    grown = _peak_rss(pid) - before
    print(f"the API's peak memory grew by {grown / MB:.1f} MB over the three refused uploads")
    assert grown < 48 * MB, f"the API's peak memory grew by {grown / MB:.0f} MB"
    assert user.get("/apps").status_code == 200
