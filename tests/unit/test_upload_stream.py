"""Multipart uploads read as they stream: each part refused the moment it passes its cap, the
request counted whatever it declared, large parts spooled to disk, small ones in memory."""

import asyncio

import pytest

from crane_api.upload_stream import UploadRefused, read_parts

BOUNDARY = "xyzzy"


def _body(parts: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, data in parts:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="f"\r\n\r\n'.encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def _chunks(data: bytes, size: int = 4096):
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _read(body: bytes, tmp_path, caps=None, max_request=10**9, max_parts=10, sent: list | None = None):
    async def counted():
        async for chunk in _chunks(body):
            if sent is not None:
                sent.append(len(chunk))
            yield chunk

    return asyncio.run(
        read_parts(
            f"multipart/form-data; boundary={BOUNDARY}",
            counted(),
            tmp_path,
            (caps or {}).get if caps else (lambda name: 10**9),
            max_request,
            max_parts,
        )
    )


def test_large_parts_go_to_disk_and_small_ones_stay_in_memory(tmp_path):
    parts = _read(_body([("compose", b"services: {}\n"), ("build.web", b"x" * 100_000)]), tmp_path)
    compose, build = parts
    assert compose.content() == b"services: {}\n" and compose.path is None
    assert build.path is not None and build.path.parent == tmp_path and build.path.read_bytes() == b"x" * 100_000


def test_a_part_past_its_cap_is_refused_naming_it_before_the_rest_is_read(tmp_path):
    sent: list[int] = []
    body = _body([("compose", b"a: 1\n"), ("build.web", b"x" * 1_000_000), ("secret.s", b"s")])
    with pytest.raises(UploadRefused) as refused:
        _read(body, tmp_path, caps={"compose": 100, "build.web": 50_000, "secret.s": 10}, sent=sent)
    assert refused.value.code == 413 and refused.value.detail == "build.web: larger than 50000 bytes"
    assert sum(sent) < 70_000  # it stopped reading right there


def test_the_whole_request_is_counted_whatever_it_declared(tmp_path):
    with pytest.raises(UploadRefused) as refused:
        _read(_body([("build.a", b"x" * 60_000), ("build.b", b"x" * 60_000)]), tmp_path, max_request=100_000)
    assert refused.value.code == 413 and "larger than 100000" in refused.value.detail


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"--xyzzy\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyzzy--\r\n", "no name"),
        (_body([("a", b"1")] * 3), "more than 2 parts"),
        (b'--xyzzy\r\nContent-Disposition: form-data; name="a"\r\n\r\nunfinished', "ends inside a part"),
    ],
)
def test_malformed_uploads_are_refused(tmp_path, body, message):
    with pytest.raises(UploadRefused) as refused:
        _read(body, tmp_path, max_parts=2)
    assert refused.value.code == 422 and message in refused.value.detail
