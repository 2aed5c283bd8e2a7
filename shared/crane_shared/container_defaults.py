"""What every replica gets unless its spec says otherwise: resource limits and the Linux
capabilities CRANE takes away. The deployer applies them; the compose export writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .servicespec import ServiceSpec

# Every replica starts with no capability at all (cap_drop: ALL) and gets back only these, the
# part of Docker's default set that ordinary images need, each for the reason given:
KEPT_CAPABILITIES = {
    "CHOWN": "entrypoints (postgres, redis, nginx) chown their data folders before dropping root",
    "DAC_OVERRIDE": "root in the container reads and writes files owned by the image's other users",
    "FOWNER": "root changes the mode of files it does not own (the same entrypoints)",
    "FSETID": "keeping the setgid bit on folders an entrypoint prepares",
    "SETUID": "gosu, su-exec, nginx and postgres switch to an unprivileged user",
    "SETGID": "the same switch, for the group",
    "NET_BIND_SERVICE": "listening on a port below 1024 (nginx on 80)",
    "KILL": "a root master process signals its workers, which run as another user",
}
# Docker's defaults that CRANE takes away (raw sockets for spoofing, device nodes, and the rest
# no ordinary app uses); exported compose files drop these, which under Docker's defaults
# leaves exactly the kept ones.
DROPPED_CAPABILITIES = ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SYS_CHROOT", "SETFCAP", "SETPCAP"]


@dataclass(frozen=True)
class Limits:
    """Applied when a service's spec gives no resources of its own."""

    cpus: float = 0.5
    memory: str = "256m"
    pids: int = 256


def dropped_capabilities(service: ServiceSpec) -> list[str]:
    """CRANE's dropped capabilities and the service's own cap_drop, less what it was granted
    (the compose export's way of saying what a replica has, on top of Docker's defaults)."""
    wanted = dict.fromkeys([*DROPPED_CAPABILITIES, *service.cap_drop])
    return [c for c in wanted if c not in service.cap_add]


def replica_capabilities(service: ServiceSpec) -> list[str]:
    """What a replica has (after cap_drop: ALL): the kept ones less the service's own cap_drop
    (ALL drops them all), plus what the admission policy granted it (cap_add)."""
    dropped = set(service.cap_drop)
    kept = [] if "ALL" in dropped else [c for c in KEPT_CAPABILITIES if c not in dropped]
    return list(dict.fromkeys([*kept, *service.cap_add]))
