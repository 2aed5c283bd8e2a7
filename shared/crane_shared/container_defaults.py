"""What every replica gets unless its spec says otherwise: resource limits and the Linux
capabilities CRANE takes away. The deployer applies them; the compose export writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .servicespec import ServiceSpec

# Capabilities in Docker's default set that ordinary web apps never need.
DROPPED_CAPABILITIES = ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SYS_CHROOT", "SETFCAP"]


@dataclass(frozen=True)
class Limits:
    """Applied when a service's spec gives no resources of its own."""

    cpus: float = 0.5
    memory: str = "256m"
    pids: int = 256


def dropped_capabilities(service: ServiceSpec) -> list[str]:
    """CRANE's dropped capabilities and the service's own cap_drop, less what it was granted."""
    wanted = dict.fromkeys([*DROPPED_CAPABILITIES, *service.cap_drop])
    return [c for c in wanted if c not in service.cap_add]
