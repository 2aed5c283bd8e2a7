"""Test images built on the spot (nothing can be pulled here): the demo app of
deploy/crane_images.py, which answers with its hostname so tests can tell replicas apart."""

from __future__ import annotations

import tempfile
from pathlib import Path

import docker

from crane_images import build_hello_image


def build_http_image(tag: str, labels: dict[str, str]) -> str:
    client = docker.from_env()
    try:
        return build_hello_image(client, tag, labels)
    finally:
        client.close()


def remove_image(tag: str) -> None:
    client = docker.from_env()
    try:
        client.images.remove(tag, force=True)
    except docker.errors.NotFound:
        pass
    finally:
        client.close()


# A fake AWS key pair (the documentation's example format, not a real key) baked into an image.
LEAKED_CONFIG = (
    "AWS_ACCESS_KEY_ID=AKIAZ3MSJV4WWNKWW5FG\nAWS_SECRET_ACCESS_KEY=HwRlEa8D2yM8kBqS0mxrNiSmO2xQhbYP0rXhuGdo\n"
)


def build_leaky_image(base: str, tag: str, labels: dict[str, str]) -> str:
    """``base`` with credentials left in /app/config.env: what the scan gate must stop."""
    client = docker.from_env()
    try:
        with tempfile.TemporaryDirectory() as context:
            Path(context, "config.env").write_text(LEAKED_CONFIG)
            Path(context, "Dockerfile").write_text(f"FROM {base}\nCOPY config.env /app/config.env\n")
            client.images.build(path=context, tag=tag, labels=labels, rm=True)
        return tag
    finally:
        client.close()
