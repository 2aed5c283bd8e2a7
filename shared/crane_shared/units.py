"""Compose's units and short forms, read once: durations ("10s"), memory sizes ("256m"),
ports ("80:8080/tcp") and volumes ("data:/var/lib/x:ro")."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Compose reads durations as Go does: one or more number+unit pairs ("1m30s", "1h0m0s").
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:us|ms|s|m|h))+$")
_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_duration(value: str | int | float) -> float:
    """Seconds in a Compose duration ("10s", "1m30s", "500ms", or a number of seconds)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = value.strip()
    if not _DURATION.match(text):
        raise ValueError(f"not a duration: {value!r} (use e.g. 10s, 500ms, 1m30s)")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text))


def parse_memory(value: str | int) -> int:
    """Bytes in a Compose memory size ("256m", "1g", "512MiB", or a number of bytes)."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(value.strip())
    if not match:
        raise ValueError(f"not a memory size: {value!r} (use e.g. 256m, 1g)")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()])


def container_port(value: int | str) -> int:
    """The container side of a Compose port ("8080", "80:8080", "127.0.0.1:80:8080/tcp", 8080)."""
    text = str(value).split("/")[0]
    port_text = text.rsplit(":", 1)[-1]
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"not a port: {value!r}")
    return int(port_text)


_VOLUME_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_HOST_PATH = re.compile(r"^(/[A-Za-z0-9_.@+-]+)+/?$|^/$")


@dataclass(frozen=True)
class Volume:
    source: str  # a named volume, or an absolute host path
    target: str
    mode: str  # "rw" or "ro"

    @property
    def is_host_path(self) -> bool:
        return self.source.startswith("/")


def parse_volume(value: str) -> Volume:
    """A Compose short volume ("data:/var/lib/x", "/srv/shared:/data:ro")."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/") or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
        raise ValueError(f"volume {value!r} must be NAME:/path[:ro] or /host/path:/path[:ro]")
    source = parts[0]
    if source.startswith("/"):
        if not _HOST_PATH.match(source) or "/../" in source + "/" or "/./" in source + "/":
            raise ValueError(f"volume {value!r}: {source!r} is not a plain absolute path")
    elif not _VOLUME_NAME.match(source):
        raise ValueError(f"volume {value!r}: {source!r} is not a volume name (a-z, 0-9, _ . -)")
    return Volume(source=source.rstrip("/") or "/", target=parts[1], mode=parts[2] if len(parts) == 3 else "rw")
