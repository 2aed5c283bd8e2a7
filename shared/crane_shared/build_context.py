"""Build contexts: the tar (or tar.gz) of a service's source that a user uploads.

Pure checks and a safe unpacker. A context is refused, naming the entry, when an entry would
land outside the context (absolute paths, ``..``, links that point out of it), when it holds
devices or FIFOs, or when it is larger or has more files than the limits allow (sizes are
counted while reading, so a gzip bomb stops at the limit). Its digest is taken over the
content (names, types, modes, link targets, file bytes), not over the archive's bytes, so
re-packing the same files with other timestamps is the same context and builds nothing.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path

DIGEST_PATTERN = r"^[0-9a-f]{64}$"


@dataclass(frozen=True)
class ContextLimits:
    max_bytes: int = 64 * 1024 * 1024  # unpacked, all files together
    max_files: int = 10_000


@dataclass(frozen=True)
class ContextInfo:
    digest: str
    files: int
    size: int


class ContextError(ValueError):
    """A build context CRANE will not unpack; the message names the entry and why."""


class ContextTooLarge(ContextError):
    """A context over the size or file-count limit."""


def max_archive_bytes(limits: ContextLimits) -> int:
    """The largest tar (uncompressed) of a context within ``limits``: its files, a header and
    padding for each (long names take a second header), and the end blocks: what an upload's
    part may be at most."""
    return limits.max_bytes + limits.max_files * 2048 + 1024 * 1024


def _open(data: bytes | Path) -> tarfile.TarFile:
    try:
        if isinstance(data, Path):
            return tarfile.open(name=str(data), mode="r:*")
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ContextError(f"not a tar or tar.gz archive: {exc}") from None


def _inside(name: str) -> str:
    """The entry's path inside the context, or ContextError when it would leave it."""
    if name.startswith("/") or "\\" in name:
        raise ContextError(f"entry {name!r}: absolute paths are not allowed")
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../"):
        raise ContextError(f"entry {name!r}: leaves the context")
    return normal


def _check_link(member: tarfile.TarInfo, path: str) -> None:
    target = member.linkname
    if target.startswith("/"):
        raise ContextError(f"entry {member.name!r}: links to the absolute path {target!r}")
    base = posixpath.dirname(path) if member.issym() else ""
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved == ".." or resolved.startswith("../"):
        raise ContextError(f"entry {member.name!r}: links to {target!r}, outside the context")


def inspect_context(data: bytes | Path, limits: ContextLimits = ContextLimits()) -> ContextInfo:
    """Check every entry of an uploaded context (its bytes, or a file holding them) and
    compute its content digest."""
    entries: list[tuple[str, str, int, str, str]] = []
    size = 0
    with _open(data) as archive:
        try:
            for member in archive:
                if len(entries) >= limits.max_files:
                    raise ContextTooLarge(f"more than {limits.max_files} files (CRANE_MAX_CONTEXT_FILES)")
                path = _inside(member.name)
                if member.isdev() or member.isfifo():
                    raise ContextError(f"entry {member.name!r}: devices and FIFOs are not allowed")
                content = ""
                if member.issym() or member.islnk():
                    _check_link(member, path)
                elif member.isfile():
                    size += member.size
                    if size > limits.max_bytes:
                        raise ContextTooLarge(
                            f"larger than {limits.max_bytes} bytes unpacked (CRANE_MAX_CONTEXT_BYTES)"
                        )
                    content = _file_digest(archive, member)
                entries.append((path, member.type.decode(), member.mode & 0o7777, member.linkname, content))
        except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as exc:
            raise ContextError(f"damaged archive: {exc}") from None
    digest = hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()
    return ContextInfo(digest=digest, files=len(entries), size=size)


def _file_digest(archive: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    handle = archive.extractfile(member)
    sha = hashlib.sha256()
    if handle is not None:
        for block in iter(lambda: handle.read(1 << 16), b""):
            sha.update(block)
    return sha.hexdigest()


def unpack_context(data: bytes | Path, destination: Path, limits: ContextLimits = ContextLimits()) -> ContextInfo:
    """Unpack a context into ``destination`` (an empty scratch directory), after the same checks
    as inspect_context; nothing is written outside it."""
    info = inspect_context(data, limits)
    root = destination.resolve()
    with _open(data) as archive:
        # The "data" filter refuses absolute paths, links out of the tree and devices itself,
        # and drops set-uid bits and ownership: a second guard behind the checks above.
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+, and Debian's backport
            archive.extractall(root, filter="data")
        else:  # pragma: no cover - older Pythons: the checks above stand alone
            archive.extractall(root)  # noqa: S202 - every entry was checked by inspect_context
    for path in root.rglob("*"):
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise ContextError(f"entry {path.relative_to(root)}: links outside the context")
    return info
