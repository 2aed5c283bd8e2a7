"""The README's shell blocks as a script a reader would type, in order, in one terminal: each
```sh block, with what the `<!-- readme-test: ... -->` lines above it say about it:

- ``skip <why>``: not run (the why is part of the README);
- ``stream <seconds>``: a live stream, run for that long, then stopped as Ctrl-C would;
- ``expect <regex>``: its output (stdout and stderr) must match (re.search).

Any other block runs to its end, and a command that fails ends the run there."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M)
_DIRECTIVE = re.compile(r"^<!-- readme-test: (skip|stream|expect) (.+?) -->$")


@dataclass
class Block:
    line: int  # where its fence opens in the README
    text: str
    skip: str | None = None
    stream: float | None = None
    expect: list[re.Pattern[str]] = field(default_factory=list)

    @property
    def first_line(self) -> str:
        return self.text.strip().splitlines()[0]


class ReadmeError(ValueError):
    """A readme-test line the runner cannot read."""


def blocks(readme: str) -> list[Block]:
    found = []
    for match in _FENCE.finditer(readme):
        line = readme.count("\n", 0, match.start()) + 1
        block = Block(line, match.group(1))
        above = readme[: match.start()].rstrip("\n").splitlines()
        while above and above[-1].startswith("<!-- readme-test:"):
            directive = _DIRECTIVE.match(above.pop())
            if directive is None:
                raise ReadmeError(f"README.md:{line}: a readme-test line the test cannot read")
            kind, value = directive.groups()
            if kind == "skip":
                block.skip = value
            elif kind == "stream":
                block.stream = float(value)
            else:
                block.expect.append(re.compile(value))
        found.append(block)
    return found


def script(runnable: list[Block], outputs: str) -> str:
    """One bash script running ``runnable`` in order, each block's output in
    ``outputs``/<n>.out and its number in ``outputs``/current before it starts."""
    parts = ["set -e -o pipefail"]
    for number, block in enumerate(runnable):
        out = f"{outputs}/{number}.out"
        parts.append(f"echo {number} > {outputs}/current")
        if block.stream is None:
            parts.append(f"{{\n{block.text}\n}} > {out} 2>&1")
        else:  # run it for a while, then stop it (and what it started) as Ctrl-C would
            parts.append(
                f"(\n{block.text}\n) > {out} 2>&1 &\n"
                f"pid=$!; sleep {block.stream:g}; pkill -INT -P $pid || true; kill -INT $pid 2>/dev/null || true\n"
                "wait $pid || true"
            )
    parts.append(f"echo done > {outputs}/current")
    return "\n".join(parts) + "\n"
