"""Compose's variable interpolation, as `docker compose` reads a file: ``$VAR``, ``${VAR}``,
``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``,
``${VAR+alt}`` (defaults may nest), and ``$$`` for a literal ``$``.

Pure: the variables are given (an uploaded file has none of the uploader's environment, so an
unset variable becomes "" with a warning, as Compose does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A ``${VAR?error}`` whose variable is unset, or a malformed ``${...}``."""


def interpolate(text: str, variables: Mapping[str, str], unset: set[str]) -> str:
    """``text`` with its variables replaced; names that were unset are added to ``unset``."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        following = text[i + 1 : i + 2]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "{":
            end = _closing_brace(text, i + 2)
            out.append(_expand(text[i + 2 : end], variables, unset))
            i = end + 1
        else:
            match = _NAME.match(text, i + 1)
            if match is None:
                raise InterpolationError(f"invalid interpolation format for {text!r}: a '$' must be written '$$'")
            out.append(_lookup(match.group(), variables, unset))
            i = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "{" and text[index - 1] == "$":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise InterpolationError(f"invalid interpolation format for {text!r}: '${{' is never closed")


def _lookup(name: str, variables: Mapping[str, str], unset: set[str]) -> str:
    if name in variables:
        return variables[name]
    unset.add(name)
    return ""


def _expand(body: str, variables: Mapping[str, str], unset: set[str]) -> str:
    match = _NAME.match(body)
    if match is None:
        raise InterpolationError(f"invalid interpolation format: '${{{body}}}'")
    name, rest = match.group(), body[match.end() :]
    if not rest:
        return _lookup(name, variables, unset)
    value = variables.get(name)
    for operator in (":-", "-", ":?", "?", ":+", "+"):
        if rest.startswith(operator):
            argument = rest[len(operator) :]
            break
    else:
        raise InterpolationError(f"invalid interpolation format: '${{{body}}}'")
    missing = value is None or (operator.startswith(":") and value == "")
    if operator in (":-", "-"):
        return interpolate(argument, variables, unset) if missing else str(value)
    if operator in (":?", "?"):
        if missing:
            raise InterpolationError(f"required variable {name} is missing a value: {argument or 'not set'}")
        return str(value)
    return "" if missing else interpolate(argument, variables, unset)
