"""What every replica gets unless its spec says otherwise: resource limits and the Linux
capabilities CRANE takes away. The deployer applies them; the compose export writes them."""

from __future__ import annotations

from dataclasses import dataclass

# Capabilities in Docker's default set that ordinary web apps never need.
DROPPED_CAPABILITIES = ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SYS_CHROOT", "SETFCAP"]


@dataclass(frozen=True)
class Limits:
    """Applied when a service's spec gives no resources of its own."""

    cpus: float = 0.5
    memory: str = "256m"
    pids: int = 256
