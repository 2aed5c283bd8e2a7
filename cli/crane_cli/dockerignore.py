"""`.dockerignore` as Docker reads it: one pattern a line (``#`` comments), Go's path patterns
(``*``, ``?``, ``[...]``) plus ``**`` for any number of folders, a leading ``!`` re-including what
an earlier pattern left out, the last matching pattern deciding. A pattern that matches a folder
leaves out everything under it. The Dockerfile and .dockerignore are always sent (the Engine
needs them; it applies .dockerignore to the build itself)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool  # a "!" pattern: include again
    text: str


class DockerIgnore:
    def __init__(self, text: str = "") -> None:
        self.patterns: list[_Pattern] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            line = line.removeprefix("!").strip()
            line = posixpath.normpath(line.lstrip("/")) if line.lstrip("/") else ""
            if line in ("", "."):
                continue
            self.patterns.append(_Pattern(re.compile(_regex(line)), exclusion, line))

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def ignores(self, path: str) -> bool:
        """Whether ``path`` (relative to the context, with ``/``) is left out."""
        parents = _parents(path)
        ignored = False
        for pattern in self.patterns:
            if any(pattern.regex.fullmatch(candidate) for candidate in parents):
                ignored = not pattern.exclusion
        return ignored


def _parents(path: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``: a pattern matching a folder matches what it holds."""
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                body = "^" + body[1:] if body.startswith("^") or body.startswith("!") else body
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)
