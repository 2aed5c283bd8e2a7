"""Test images built on the spot (nothing can be pulled here): the demo app of
deploy/crane_images.py, which answers with its hostname so tests can tell replicas apart."""

from __future__ import annotations

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
