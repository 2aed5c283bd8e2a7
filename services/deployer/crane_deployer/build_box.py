"""The Engine's image build, in a box: no network unless the service asked for one (and the
admission policy let it), CPU and memory limits on every build step, a wall-clock limit that
ends the build whatever it prints, and a cap on the size of the image it leaves.

This is the one place that speaks the Engine's ``/build`` itself: docker-py's ``build()`` passes
no CPU quota and gives no hold on the connection, and only closing the connection makes the
Engine stop a build (it kills the running step's container when its client goes away).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException

from crane_shared.servicespec import BuildSpec
from crane_shared.units import parse_memory

log = logging.getLogger("crane.deployer.build")
CPU_PERIOD = 100_000  # microseconds: the quota is given per this period


class BuildError(RuntimeError):
    """The build failed, was stopped at its limit, or made an image over the size cap."""


@dataclass(frozen=True)
class BuildBox:
    """What one build may use (CRANE_BUILD_* settings)."""

    cpus: float = 1.0
    memory: str = "2g"
    seconds: float = 900.0
    max_image_bytes: int = 4 * 1024**3

    @property
    def memory_bytes(self) -> int:
        return parse_memory(self.memory)


def build_params(tag: str, build: BuildSpec, labels: dict[str, str], box: BuildBox) -> dict[str, Any]:
    """The query of the Engine's /build for one boxed build (pure)."""
    params: dict[str, Any] = {
        "t": tag,
        "dockerfile": build.dockerfile,
        "rm": True,
        "forcerm": True,
        "labels": json.dumps(labels),
        "networkmode": "default" if build.network == "default" else "none",
        "memory": box.memory_bytes,
        "memswap": box.memory_bytes,  # no swap on top
        "cpuperiod": CPU_PERIOD,
        "cpuquota": max(1000, int(box.cpus * CPU_PERIOD)),
    }
    if build.args:
        params["buildargs"] = json.dumps(build.args)
    if build.target:
        params["target"] = build.target
    return params


def _dockerignore(context: Path) -> list[str] | None:
    path = context / ".dockerignore"
    if not path.is_file():
        return None
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _cut(response: requests.Response) -> None:
    """Close the build's connection under the reader's feet: the Engine stops the build."""
    try:
        raw = response.raw._fp.fp.raw  # the socket under the chunked reader
        sock = getattr(raw, "_sock", None) or getattr(raw, "sock", None) or raw
        sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        response.close()


class BuildStop:
    """Ends a build from another thread: at the box's clock, or when asked (the deployer stops)."""

    def __init__(self) -> None:
        self._asked = threading.Event()
        self.reason: str | None = None

    def ask(self, reason: str) -> None:
        if not self._asked.is_set():
            self.reason = reason
            self._asked.set()

    def wait(self, seconds: float) -> bool:
        return self._asked.wait(seconds)


def run_build(
    api: docker.APIClient,
    context: Path,
    tag: str,
    build: BuildSpec,
    labels: dict[str, str],
    box: BuildBox,
    on_line: Callable[[str], None],
    stop: BuildStop | None = None,
) -> None:
    """Build ``context`` into ``tag`` in ``box`` (blocking: run it in a thread), handing each
    line of output to ``on_line``; BuildError says why it failed or was stopped."""
    stop = stop or BuildStop()
    archive = docker.utils.tar(str(context), exclude=_dockerignore(context), dockerfile=(build.dockerfile, None))
    try:
        response = api._post(
            api._url("/build"),
            data=archive,
            params=build_params(tag, build, labels, box),
            headers={"Content-Type": "application/tar"},
            stream=True,
            timeout=None,  # the box's clock ends it, not a read timeout
        )
        api._raise_for_status(response)
    except (APIError, DockerException, requests.RequestException) as exc:
        archive.close()
        raise BuildError(getattr(exc, "explanation", None) or str(exc)) from exc
    finished = threading.Event()

    def watch() -> None:
        if not stop.wait(box.seconds):
            stop.ask(f"the build ran past its time limit ({box.seconds:.0f} s) and was stopped")
        if not finished.is_set():
            _cut(response)

    threading.Thread(target=watch, name=f"build clock {tag}", daemon=True).start()
    try:
        for chunk in api._stream_helper(response, decode=True):
            if "error" in chunk:
                raise BuildError((chunk.get("errorDetail") or {}).get("message") or chunk["error"])
            text = chunk.get("stream") or chunk.get("status") or ""
            for line in text.splitlines():
                if line.strip():
                    on_line(line.rstrip())
    except BuildError:
        raise
    except Exception as exc:  # noqa: BLE001 - urllib3's, requests' or the socket's: a stream cut or broken
        if stop.reason is None:
            raise BuildError(f"the Engine's build stream broke: {exc}") from exc
    finally:
        finished.set()
        stop.ask("finished")  # (wakes the clock, which then leaves the connection alone)
        response.close()
        archive.close()
    if stop.reason != "finished":
        raise BuildError(stop.reason or "the build was stopped")
    _refuse_oversized(api, tag, box)


def _refuse_oversized(api: docker.APIClient, tag: str, box: BuildBox) -> None:
    try:
        size = int(api.inspect_image(tag).get("Size") or 0)
    except DockerException as exc:
        raise BuildError(f"the built image {tag} cannot be read: {exc}") from exc
    if size > box.max_image_bytes:
        try:
            api.remove_image(tag, force=True)
        except DockerException:
            log.warning("could not remove the oversized image %s", tag)
        limit = box.max_image_bytes / 1024**2
        raise BuildError(f"the image is {size / 1024**2:.0f} MB, above the build limit of {limit:.0f} MB")
