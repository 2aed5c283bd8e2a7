"""Where Trivy reads untrusted images: a container of its own, never the deployer's process.

An image to scan is untrusted input (any user's build), and Trivy unpacks and parses it. So it
runs in a throw-away container that holds nothing worth taking and can reach nothing:

- no network (``network_mode: none``) and no Docker socket: the deployer saves the image
  (``docker save``) and hands Trivy the archive in a volume made for this one scan;
- every capability dropped, no new privileges, a read-only root, user 65534 (nobody), and
  memory and process limits;
- the scanner image is only the static Trivy binary (``FROM scratch``), built here from the
  binary the deployer found (tagged by its digest, labelled ``crane.scanner``), or an image
  of Trivy the admin names (CRANE_SCANNER_IMAGE, e.g. the official aquasec/trivy where it can
  be pulled);
- the vulnerability database, when there is one, is copied in beside the archive; the report
  comes back as a file read from the volume. Container and volume go when the scan ends.

The database itself is still downloaded by the deployer's own Trivy (trivy.py): that talks only
to Trivy's database registry and reads no user's input.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import tarfile
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from .naming import LABEL_SUITE

log = logging.getLogger("crane.deployer.scan_sandbox")

LABEL_SCANNER = "crane.scanner"  # the scanner image (shared by suites on one engine)
LABEL_SCAN = "crane.scan"  # a scan's container and volume: the image scanned
SCAN_DIR = "/scan"
NOBODY = 65534
MAX_REPORT_BYTES = 64 * 2**20
BLOCK = tarfile.BLOCKSIZE
CHUNK = 2**20


@dataclass(frozen=True)
class Member:
    """One entry of the archive handed to a scan: a directory (``source`` None) or a file."""

    name: str
    source: Path | None = None
    owner: int = 0
    mode: int = 0o444


def scan_archive(members: Sequence[Member]) -> Iterator[bytes]:
    """A tar stream of ``members``, read from disk a chunk at a time (an image's archive may be
    larger than the deployer's memory)."""
    for member in members:
        info = tarfile.TarInfo(member.name)
        info.uid = info.gid = member.owner
        info.mode = member.mode
        if member.source is None:
            info.type = tarfile.DIRTYPE
            yield info.tobuf(format=tarfile.PAX_FORMAT)
            continue
        info.size = member.source.stat().st_size
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        with member.source.open("rb") as file:
            while chunk := file.read(CHUNK):
                yield chunk
        if info.size % BLOCK:
            yield b"\0" * (BLOCK - info.size % BLOCK)
    yield b"\0" * (2 * BLOCK)


def scan_members(image_archive: Path, db_files: Sequence[Path]) -> list[Member]:
    """What a scan gets: the image's archive (read only), the database files (the scan's own
    copy), and the directories Trivy writes (owned by the scan's user)."""
    writable = [Member(name, owner=NOBODY, mode=0o700) for name in ("tmp", "home", "out", "cache", "cache/db")]
    database = [Member(f"cache/db/{path.name}", path, owner=NOBODY, mode=0o600) for path in db_files]
    return [*writable, Member("image.tar", image_archive), *database]


def write_binary_context(file: BinaryIO, binary: Path, name: str) -> None:
    """Into ``file``, the build context of an image that is ``binary`` alone (``FROM scratch``),
    at /<name>, as its entrypoint."""
    dockerfile = f'FROM scratch\nCOPY {name} /{name}\nENTRYPOINT ["/{name}"]\n'.encode()
    with tarfile.open(fileobj=file, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(binary, arcname=name)


def scanner_tag(binary: Path) -> str:
    digest = hashlib.sha256()
    with binary.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return f"crane-scanner:{digest.hexdigest()[:16]}"


def read_report(archive: bytes) -> bytes:
    """The one file of a ``get_archive`` answer (ValueError if there is none)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            member = next((m for m in tar.getmembers() if m.isfile()), None)
            file = tar.extractfile(member) if member is not None else None
            if file is None:
                raise ValueError("the scan wrote no report")
            return file.read()
    except tarfile.TarError as exc:
        raise ValueError(f"the scan's report is not readable: {exc}") from None


@dataclass
class SandboxResult:
    code: int  # Trivy's exit code; -1: it did not finish
    report: bytes
    error: str


class ScanSandbox:
    def __init__(
        self,
        api: docker.APIClient,
        suite: str,
        work_dir: Path,
        *,
        binary: str | None = None,
        image: str | None = None,
        memory: str = "1g",
        pids: int = 512,
    ) -> None:
        """Scans run in ``image`` (its entrypoint is Trivy), else in one built from ``binary``."""
        if not (binary or image):
            raise ValueError("a scan sandbox needs a Trivy binary or an image of Trivy")
        self.api = api
        self.suite = suite
        self.binary = Path(binary) if binary else None
        self.work_dir = work_dir  # where image archives wait for their scan
        self.memory = memory
        self.pids = pids
        self._named = image
        self._image: str | None = None  # the scanner image, once it is here
        self._preparing = asyncio.Lock()

    async def image(self) -> str:
        """The scanner image: the one named (pulled if it is not here), else the Trivy binary
        alone, built once per binary."""
        async with self._preparing:
            if self._image is None:
                self._image = await asyncio.to_thread(self._named_image if self._named else self._built_image)
            return self._image

    def _named_image(self) -> str:
        assert self._named is not None
        try:
            self.api.inspect_image(self._named)
        except ImageNotFound:
            log.info("pulling the scanner image %s", self._named)
            self.api.pull(self._named)
        return self._named

    def _built_image(self) -> str:
        assert self.binary is not None  # (the constructor checks)
        tag = scanner_tag(self.binary)
        try:
            self.api.inspect_image(tag)
        except ImageNotFound:
            log.info("building the scanner image %s (Trivy alone, from scratch)", tag)
            self._build(self.binary, tag)
        return tag

    def _build(self, binary: Path, tag: str) -> None:
        with tempfile.TemporaryFile(dir=self.work_dir) as context:
            write_binary_context(context, binary, "trivy")
            context.seek(0)
            for line in self.api.build(
                fileobj=context, custom_context=True, tag=tag, rm=True, labels={LABEL_SCANNER: "true"}, decode=True
            ):
                if "error" in line:
                    raise DockerException(f"cannot build the scanner image: {line['error']}")

    async def remove_leftovers(self) -> None:
        """Scans a stopped deployer left behind (this suite's only)."""
        filters = {"label": [f"{LABEL_SUITE}={self.suite}", LABEL_SCAN]}
        for container in await asyncio.to_thread(self.api.containers, all=True, filters=filters):
            with contextlib.suppress(NotFound, APIError):
                await asyncio.to_thread(self.api.remove_container, container["Id"], force=True)
        for volume in (await asyncio.to_thread(self.api.volumes, filters=filters)).get("Volumes") or []:
            with contextlib.suppress(NotFound, APIError):
                await asyncio.to_thread(self.api.remove_volume, volume["Name"], force=True)

    async def scan(self, image: str, arguments: list[str], db_files: Sequence[Path], timeout: float) -> SandboxResult:
        """Run ``trivy <arguments>`` on ``image`` (its archive is at /scan/image.tar, the
        database under /scan/cache, the report to be written to /scan/out/report.json)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)  # (a scanner image is built there too)
        scanner = await self.image()
        archive = self.work_dir / f"image-{uuid.uuid4().hex}.tar"
        labels = {LABEL_SUITE: self.suite, LABEL_SCAN: image[:200]}
        volume = container = None
        try:
            await asyncio.to_thread(self._save, image, archive)
            name = f"{self.suite}-scan-{uuid.uuid4().hex[:12]}"
            volume = (await asyncio.to_thread(self.api.create_volume, name=name, labels=labels))["Name"]
            container = (await asyncio.to_thread(self._create, scanner, arguments, volume, labels))["Id"]
            members = scan_members(archive, db_files)
            await asyncio.to_thread(self.api.put_archive, container, SCAN_DIR, scan_archive(members))
            archive.unlink()
            await asyncio.to_thread(self.api.start, container)
            try:
                status = await asyncio.to_thread(self.api.wait, container, timeout=timeout)
            except requests.exceptions.RequestException:  # the engine's answer timed out: still scanning
                with contextlib.suppress(NotFound, APIError):
                    await asyncio.to_thread(self.api.kill, container)
                return SandboxResult(-1, b"", f"timed out after {timeout:.0f}s")
            code = int(status.get("StatusCode", -1))
            if code != 0:
                stderr = await asyncio.to_thread(self.api.logs, container, stdout=False, stderr=True, tail=20)
                return SandboxResult(code, b"", stderr.decode(errors="replace"))
            stream, stat = await asyncio.to_thread(self.api.get_archive, container, f"{SCAN_DIR}/out/report.json")
            if int(stat.get("size", 0)) > MAX_REPORT_BYTES:
                return SandboxResult(code, b"", f"the report is larger than {MAX_REPORT_BYTES} bytes")
            return SandboxResult(code, read_report(await asyncio.to_thread(b"".join, stream)), "")
        finally:
            with contextlib.suppress(FileNotFoundError):
                archive.unlink()
            if container is not None:
                with contextlib.suppress(NotFound, APIError):
                    await asyncio.to_thread(self.api.remove_container, container, force=True)
            if volume is not None:
                with contextlib.suppress(NotFound, APIError):
                    await asyncio.to_thread(self.api.remove_volume, volume, force=True)

    def _save(self, image: str, archive: Path) -> None:
        with archive.open("wb") as file:
            for chunk in self.api.get_image(image):
                file.write(chunk)
        os.chmod(archive, 0o600)

    def _create(self, scanner: str, arguments: list[str], volume: str, labels: dict[str, str]) -> Any:
        host_config = self.api.create_host_config(
            binds={volume: {"bind": SCAN_DIR, "mode": "rw"}},
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            mem_limit=self.memory,
            pids_limit=self.pids,
            tmpfs={"/tmp": "size=64m"},
        )
        return self.api.create_container(
            scanner,
            command=arguments,
            user=f"{NOBODY}:{NOBODY}",
            environment={"TMPDIR": f"{SCAN_DIR}/tmp", "HOME": f"{SCAN_DIR}/home", "TRIVY_NO_PROGRESS": "true"},
            labels=labels,
            host_config=host_config,
            network_disabled=True,
        )
