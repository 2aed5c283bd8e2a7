"""Uploaded secrets and configs: their content is kept in the files object store under a
random id (so an id tells nothing about the content); app specs, events and exports carry only
the ids and where each file is mounted."""

from __future__ import annotations

import uuid


def new_file_id() -> str:
    return f"f-{uuid.uuid4().hex}"
