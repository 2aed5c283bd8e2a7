"""A project's ``.env`` as Docker Compose reads it (one home, no imports beyond the standard
library): the values that fill ``${VAR}`` in the compose file, and the lines that set Compose
itself up (``COMPOSE_*``), which CRANE never takes from an upload.

The crane CLI, a distribution of its own, has this very file as ``crane_cli/compose_dotenv.py``
(a link), so the CLI and the services read a ``.env`` alike.
"""

from __future__ import annotations

import re

COMPOSE_SETTING_PREFIX = "COMPOSE_"
# KEY=v, KEY: v, export KEY=v (Compose's reader takes all three).
_KEY = re.compile(r"^\s*(?:export\s+)?([^=:#\s]+)\s*[=:]")


def dotenv_keys(text: str) -> list[tuple[int, str]]:
    """(line number, key) of every line that sets a variable. Lines inside a quoted value are
    read as lines too: that can only find more keys, never fewer."""
    return [(number, match.group(1)) for number, line in enumerate(text.splitlines(), 1) if (match := _KEY.match(line))]


def is_compose_setting(key: str) -> bool:
    return key.upper().startswith(COMPOSE_SETTING_PREFIX)


def read_dotenv(text: str) -> dict[str, str]:
    """The variables a ``.env`` sets: ``KEY=value`` (or ``:``, or after ``export``), a value in
    matching quotes taken as it is, an unquoted one up to a `` #`` comment; the last wins."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _KEY.match(line)
        if match is None:
            continue
        value = line[match.end() :].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[match.group(1)] = value
    return values


def without_compose_settings(text: str) -> tuple[str, list[tuple[int, str]]]:
    """The ``.env`` without the lines that set Compose itself up, and (line, key) of those."""
    dropped = {number: key for number, key in dotenv_keys(text) if is_compose_setting(key)}
    kept = [line for number, line in enumerate(text.splitlines(), 1) if number not in dropped]
    return "\n".join(kept) + ("\n" if kept else ""), sorted(dropped.items())
