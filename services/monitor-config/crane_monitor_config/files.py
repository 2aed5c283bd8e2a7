"""Writing monitoring files atomically (Prometheus may read them at any moment)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml


def write_atomically(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write ``text`` to ``path`` via a temporary file and rename; False if it was already so."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def write_yaml(path: Path, document: dict[str, Any]) -> bool:
    return write_atomically(path, yaml.safe_dump(document, sort_keys=False))


def write_json(path: Path, document: Any) -> bool:
    return write_atomically(path, json.dumps(document, indent=2))


def remove(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
