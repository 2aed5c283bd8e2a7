"""Where the CLI keeps the login: ``$XDG_CONFIG_HOME/crane/credentials.json`` (or
``~/.config/crane``), readable by the user alone (0600 in a 0700 folder)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_API = "http://localhost:8000"


@dataclass
class Credentials:
    api: str
    email: str
    token: str


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "crane"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def load() -> Credentials | None:
    try:
        data = json.loads(credentials_path().read_text())
        return Credentials(str(data["api"]), str(data["email"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(credentials: Credentials) -> Path:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    path = credentials_path()
    # Created 0600 before a byte is written: the token is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(asdict(credentials), handle)
    path.chmod(0o600)
    return path


def forget() -> bool:
    try:
        credentials_path().unlink()
        return True
    except FileNotFoundError:
        return False


def api_url(given: str | None) -> str:
    """--api, else $CRANE_API, else the saved login's, else localhost:8000."""
    saved = load()
    return (given or os.environ.get("CRANE_API") or (saved.api if saved else DEFAULT_API)).rstrip("/")
