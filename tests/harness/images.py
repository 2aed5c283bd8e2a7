"""Small test images built on the spot (nothing can be pulled here): busybox-static in a
FROM scratch image, serving its own hostname over HTTP so a test can tell replicas apart."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import docker

BUSYBOX = Path("/bin/busybox")
HTTP_PORT = 8080

DOCKERFILE = f"""
FROM scratch
COPY busybox /bin/busybox
COPY serve.sh /serve.sh
ENTRYPOINT ["/bin/busybox", "sh", "/serve.sh"]
EXPOSE {HTTP_PORT}
"""

# Every replica answers GET / with its hostname (its container id), and /health with ok.
SERVE = f"""
/bin/busybox mkdir -p /www /bin /tmp
/bin/busybox --install -s /bin
hostname > /www/index.html
echo ok > /www/health
exec httpd -f -v -p {HTTP_PORT} -h /www
"""


def _context() -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in (
            ("Dockerfile", DOCKERFILE.encode(), 0o644),
            ("serve.sh", SERVE.encode(), 0o755),
            ("busybox", BUSYBOX.read_bytes(), 0o755),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def build_http_image(tag: str, labels: dict[str, str]) -> str:
    """Build the busybox HTTP image as ``tag`` (requires the static busybox of busybox-static)."""
    client = docker.from_env()
    try:
        client.images.build(fileobj=_context(), custom_context=True, tag=tag, labels=labels, rm=True)
    finally:
        client.close()
    return tag


def remove_image(tag: str) -> None:
    client = docker.from_env()
    try:
        client.images.remove(tag, force=True)
    except docker.errors.NotFound:
        pass
    finally:
        client.close()
