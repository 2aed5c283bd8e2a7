"""rego-cpp's compiler errors in words, with the line: the engine writes each error as a tree,
``(error <n>:<module>|<offset>|<length> (errormsg <n>:<text>) ...)``, where ``<n>:`` is the length
of the text that follows and the offset counts bytes into the module's source. People (the API,
the console, crane) get ``<module> line L, column C: <text>``; anything else is left as it is."""

from __future__ import annotations

import re

ERROR = re.compile(r"\(error (\d+):")
SPAN = re.compile(r"\|(\d+)\|(\d+)")
MESSAGE = re.compile(r"\(errormsg (\d+):")


def _counted(text: str, at: int) -> tuple[str, int]:
    """The ``<n>:<text>`` token whose digits start at ``at``: its text and where it ends."""
    digits = re.match(r"(\d+):", text[at:])
    if digits is None:
        return "", at
    start = at + digits.end()
    end = start + int(digits.group(1))
    return text[start:end], end


def readable(error: str, modules: dict[str, str]) -> str:
    found = []
    for match in ERROR.finditer(error):
        module, after = _counted(error, match.start(1))
        span = SPAN.match(error, after)
        message = MESSAGE.search(error, after)
        if span is None or message is None or module not in modules:
            continue
        text, _ = _counted(error, message.start(1))
        source = modules[module].encode()
        offset = min(int(span.group(1)), len(source))
        line = source.count(b"\n", 0, offset) + 1
        column = offset - (source.rfind(b"\n", 0, offset) + 1) + 1
        found.append(f"{module} line {line}, column {column}: {text}")
    return "; ".join(found) if found else error
