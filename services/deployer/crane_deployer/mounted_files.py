"""Secrets and configs in replicas (pure): where each file lands and how it gets there.

Every file of a service goes into one volume of the app's, filled once (by CRANE, from the
files object store) and mounted read-only at /run/secrets in each replica: secrets are there,
read-only whatever the process's privileges. A file whose target is elsewhere (a config at
/etc/app.conf) is a symbolic link to its copy in that volume. The volume's name is taken from
the files' ids, targets and modes, so new content is a new volume and replaces the replicas.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from dataclasses import dataclass

from crane_shared.appspec import AppSpec
from crane_shared.servicespec import ServiceSpec

SECRETS_DIR = "/run/secrets"
LINKED_DIR = ".linked"  # inside the volume: files whose target is outside /run/secrets
COMPLETE_MARKER = ".crane-complete"  # written last: a volume without it was not filled
DEFAULT_MODE = 0o444


@dataclass(frozen=True)
class MountedFile:
    path: str  # where the process sees it
    file_id: str  # its content, in the files object store
    mode: int
    uid: int
    gid: int

    @property
    def in_volume(self) -> str:
        """Its path inside the files volume."""
        if self.path.startswith(SECRETS_DIR + "/"):
            return self.path.removeprefix(SECRETS_DIR + "/")
        digest = hashlib.sha256(self.path.encode()).hexdigest()[:12]
        return f"{LINKED_DIR}/{digest}-{posixpath.basename(self.path)}"

    @property
    def linked(self) -> bool:
        return not self.path.startswith(SECRETS_DIR + "/")


def service_files(spec: AppSpec, service: ServiceSpec) -> list[MountedFile]:
    return [
        MountedFile(
            path,
            file_id,
            mount.mode if mount.mode is not None else DEFAULT_MODE,
            int(mount.uid or 0),
            int(mount.gid or 0),
        )
        for path, file_id, mount in spec.files_of(service)
    ]


def files_volume(service: str, files: list[MountedFile]) -> str:
    """The (app-relative) name of the volume holding exactly these files."""
    basis = repr(sorted((f.path, f.file_id, f.mode, f.uid, f.gid) for f in files)).encode()
    return f"crane-files-{service}-{hashlib.sha256(basis).hexdigest()[:12]}"


def _folders(archive: tarfile.TarFile, path: str, done: set[str]) -> None:
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        if folder not in done:
            done.add(folder)
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)


def volume_archive(files: list[tuple[MountedFile, bytes]]) -> bytes:
    """The files volume's content: each file at its place, then the completion marker."""
    buffer = io.BytesIO()
    done: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for file, content in files:
            _folders(archive, file.in_volume, done)
            info = tarfile.TarInfo(file.in_volume)
            info.size, info.mode, info.uid, info.gid = len(content), file.mode, file.uid, file.gid
            archive.addfile(info, io.BytesIO(content))
        marker = tarfile.TarInfo(COMPLETE_MARKER)
        archive.addfile(marker, io.BytesIO(b""))
    return buffer.getvalue()


def links_archive(files: list[MountedFile]) -> bytes | None:
    """Symbolic links at the targets outside /run/secrets, to unpack at / before the replica starts."""
    linked = [f for f in files if f.linked]
    if not linked:
        return None
    buffer = io.BytesIO()
    done: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for file in linked:
            _folders(archive, file.path, done)
            info = tarfile.TarInfo(file.path.strip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, f"{SECRETS_DIR}/{file.in_volume}"
            archive.addfile(info)
    return buffer.getvalue()
