"""A build context or a bind-mounted folder as the tar.gz CRANE takes: what .dockerignore leaves
in, in a fixed order with no timestamps or owners (the same files make the same archive),
links kept as links (CRANE refuses those that leave the folder), sockets and devices left out."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .dockerignore import DockerIgnore


@dataclass(frozen=True)
class Packed:
    data: bytes
    files: int
    size: int  # bytes of file content, before compression


def pack(folder: Path, dockerfile: str | None = None, honour_dockerignore: bool = True) -> Packed:
    ignore = DockerIgnore(_read(folder / ".dockerignore")) if honour_dockerignore else DockerIgnore()
    always = {".dockerignore", (dockerfile or "Dockerfile").lstrip("./")}
    raw = io.BytesIO()
    files = size = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in _walk(folder, ignore, always):
            relative = path.relative_to(folder).as_posix()
            info = archive.gettarinfo(str(path), arcname=relative)
            if not (info.isfile() or info.isdir() or info.issym()):
                continue
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                files += 1
                size += info.size
                with path.open("rb") as handle:
                    archive.addfile(info, handle)
            else:
                archive.addfile(info)
    return Packed(gzip.compress(raw.getvalue(), mtime=0), files, size)


def _walk(folder: Path, ignore: DockerIgnore, always: set[str]) -> list[Path]:
    out: list[Path] = []
    # A left-out folder is not even read, unless a "!" pattern may bring back something in it.
    prune = not ignore.has_exclusions
    for root, dirs, names in os.walk(folder, followlinks=False):
        base = Path(root)
        keep_dirs = []
        for name in sorted(dirs):
            path = base / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                names.append(name)  # a link to a folder is a link, not a folder to walk
                continue
            if prune and ignore.ignores(relative):
                continue
            keep_dirs.append(name)
            if not ignore.ignores(relative):
                out.append(path)
        dirs[:] = keep_dirs
        for name in sorted(names):
            path = base / name
            relative = path.relative_to(folder).as_posix()
            if relative in always or not ignore.ignores(relative):
                mode = path.lstat().st_mode
                if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
                    out.append(path)
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
