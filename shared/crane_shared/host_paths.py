"""Host paths an app may bind-mount: judged where they really lead, never by their spelling.

The admission policy's allow-list (admins edit it) is checked against a path as written, which a
symlink inside an allowed folder can send anywhere. So the deployer resolves each host path on
the host before creating a replica (``resolve_under``: symlinks followed as the host's kernel
would, reading the host's filesystem through ``root``, which is ``/`` on the host itself and
the host's root mounted read-only in the deployer's container), asks the policy again about the
resolved path, and refuses some places whatever the policy says (``denied``).
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

# Never mounted, whatever an admin allows: the host's control surfaces and secrets.
DENIED_ROOTS = ("/proc", "/sys", "/dev", "/etc", "/run", "/var/run", "/var/lib/docker", "/boot", "/root")
MAX_LINKS = 40  # as Linux's own limit on symlinks followed in one lookup


class Unresolvable(ValueError):
    """A path whose way cannot be followed: too many symlinks (a loop), or a folder on the way
    that cannot be read."""


def denied(path: str) -> str | None:
    """Why CRANE never mounts ``path`` (absolute, normalised), or None."""
    if path == "/":
        return "/ is the whole host"
    if path.endswith("docker.sock"):
        return f"{path} is the Docker socket, which gives control of the host"
    for root in DENIED_ROOTS:
        if path == root or path.startswith(root + "/"):
            return f"{path} is under {root}, which CRANE never mounts"
    return None


def resolve_under(root: Path, path: str) -> str:
    """Where the absolute host ``path`` leads on the host whose filesystem is at ``root``:
    every symlink followed (an absolute target starts again from the host's root), ``..``
    applied after each link, as the kernel does; a part that does not exist is kept as written.
    Raises Unresolvable past MAX_LINKS or where a folder on the way cannot be read."""
    pending = [part for part in path.split("/") if part]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = resolved + [part]
        on_host = root.joinpath(*candidate)
        try:
            is_link = on_host.is_symlink()
            target = os.readlink(on_host) if is_link else ""
        except OSError as exc:
            raise Unresolvable(f"{path}: cannot follow it ({exc.strerror})") from None
        if is_link:
            links += 1
            if links > MAX_LINKS:
                raise Unresolvable(f"{path}: too many symbolic links")
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved = candidate
    return posixpath.join("/", *resolved)
