"""Which images a tenant may name: in a service's ``image``, and in the ``FROM`` and
``COPY --from`` lines of a Dockerfile it uploads.

The Engine resolves more than names. A reference with no ``/``, ``:`` or ``@`` that names no
image is looked up as a prefix of an image id, so ``image: 3f2a9c1b`` ran whatever image's id
began so, another tenant's build among them; ``sha256:...`` names an id outright. CRANE's own
images are open the same way by name: what it built for every tenant (``crane-build/...``), its
scanner and the suite's images (``crane/...``, which hold CRANE's code). All of these are
refused; ``crane/hello`` is the demo image tenants are told to build on.

Pure: the deployer checks again before it builds or creates (for specs from before, and from
any publisher), the API checks first to answer 422 naming the field.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from .compose.interpolation import InterpolationError, interpolate

_HEX = re.compile(r"^[0-9a-fA-F]+$")
# Registries the Engine treats as the default one (names there are the same local image).
_DEFAULT_REGISTRY = ("docker.io/", "index.docker.io/", "registry-1.docker.io/", "localhost/")
RESERVED_REPOSITORY_PREFIXES = ("crane-build/", "crane/")
RESERVED_REPOSITORIES = frozenset({"crane-scanner"})
TENANT_IMAGES = frozenset({"crane/hello"})  # the suite's demo image: what tenants build on


def repository(reference: str) -> str:
    """The repository a reference names, without tag, digest or the default registry:
    ``docker.io/library/nginx:1@sha256:..`` -> ``nginx``."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    name = name.lower()
    for registry in _DEFAULT_REGISTRY:
        if name.startswith(registry):
            name = name.removeprefix(registry).removeprefix("library/")
            break
    return name


def image_ref_problem(reference: str) -> str | None:
    """Why a tenant may not name ``reference``, or None."""
    ref = reference.strip()
    if ref.lower().startswith("sha256:") or (_HEX.match(ref) and not re.search(r"[/:@]", ref)):
        return (
            f"{ref!r} would be looked up as an image id (or a prefix of one), which may be anyone's image: "
            f"name an image by repository and tag (write {ref}:latest for an image called so)"
        )
    repo = repository(ref)
    if repo in TENANT_IMAGES:
        return None
    if repo in RESERVED_REPOSITORIES or repo.startswith(RESERVED_REPOSITORY_PREFIXES):
        return (
            f"{ref!r} is one of CRANE's own images (its builds, its scanner or the suite's): name your own image, "
            "or upload a build context (crane/hello:local is the demo image to build on)"
        )
    return None


@dataclass(frozen=True)
class BaseImage:
    """An image a Dockerfile reads: its line, the instruction and the reference as Docker sees it."""

    line: int
    instruction: str  # "FROM" or "COPY --from"
    reference: str


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, instruction) with continuations joined and comments left out."""
    escape = "\\"
    lines = text.splitlines()
    for raw in lines:  # parser directives come first, before any other line
        match = re.match(r"^\s*#\s*escape\s*=\s*(\S)\s*$", raw, re.IGNORECASE)
        if match:
            escape = match.group(1)
            break
        if not re.match(r"^\s*#\s*\w+\s*=", raw):
            break
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and pending):
            continue
        if not pending:
            start = number
        if stripped.endswith(escape):
            pending.append(stripped[: -len(escape)])
            continue
        pending.append(stripped)
        joined = " ".join(pending).strip()
        pending = []
        if joined:
            out.append((start, joined))
    if pending:
        out.append((start, " ".join(pending).strip()))
    return out


def _arg(body: str) -> tuple[str, str | None]:
    name, sep, default = body.strip().partition("=")
    if sep and len(default) >= 2 and default[0] == default[-1] and default[0] in "\"'":
        default = default[1:-1]
    return name.strip(), (default if sep else None)


def base_images(dockerfile: str, build_args: Mapping[str, str]) -> list[BaseImage]:
    """The images a Dockerfile builds on (FROM) or copies from (COPY --from), with build
    arguments and the ARGs before the first FROM filled in as Docker fills them; stages of
    the same file and ``scratch`` are not images."""
    variables: dict[str, str] = {}
    stages: set[str] = set()
    found: list[BaseImage] = []
    seen_from = False
    for number, line in _logical_lines(dockerfile):
        instruction, _, rest = line.partition(" ")
        keyword = instruction.upper()
        if keyword == "ARG" and not seen_from:
            name, default = _arg(rest)
            value = build_args.get(name, default)
            if value is not None:
                variables[name] = value
        elif keyword == "FROM":
            seen_from = True
            words = [w for w in _split(rest) if not w.startswith("--")]
            if not words:
                continue
            reference = _fill(words[0], variables)
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
            if reference.lower() not in stages and reference.lower() != "scratch":
                found.append(BaseImage(number, "FROM", reference))
        elif keyword in ("COPY", "ADD"):
            for word in _split(rest):
                if not word.startswith("--"):
                    break
                if word.lower().startswith("--from="):
                    source = _fill(word.split("=", 1)[1], variables)
                    if source.lower() not in stages and not source.isdigit():
                        found.append(BaseImage(number, f"{keyword} --from", source))
    return found


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _fill(word: str, variables: Mapping[str, str]) -> str:
    try:
        return interpolate(word, variables, set())
    except InterpolationError:
        return word


def dockerfile_problems(dockerfile: str, build_args: Mapping[str, str]) -> list[str]:
    """Each FROM or COPY --from that names an image a tenant may not use, in words."""
    problems = []
    for base in base_images(dockerfile, build_args):
        problem = image_ref_problem(base.reference)
        if problem:
            problems.append(f"Dockerfile line {base.line}: {base.instruction} {problem}")
    return problems
