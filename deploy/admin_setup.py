"""The compose demo's admin account: `make up` runs this before starting the suite.

    python deploy/admin_setup.py deploy/.secrets/<suite>

Writes a generated password to <dir>/admin.password on first start (kept afterwards; the API
creates the account CRANE_ADMIN_EMAIL with it) and prints how to log in. Nobody becomes admin by
registering first."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

DEFAULT_ADMIN_EMAIL = "admin@example.com"


def ensure_admin_password(directory: Path) -> Path:
    path = directory / "admin.password"
    if not path.exists() or not path.read_text().strip():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18) + "\n")
        path.chmod(0o644)  # the directory is 0700; the API container runs as another user
    return path


if __name__ == "__main__":
    target = ensure_admin_password(Path(sys.argv[1]))
    email = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else DEFAULT_ADMIN_EMAIL
    print(f"==> admin account: {email}, password in {target}")
