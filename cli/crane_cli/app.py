"""The `crane` command's shared parts: the Typer app every command registers on, the
consoles, the output option, and finding an app by id or name."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Console

from .api import Api, CliError

app = typer.Typer(
    name="crane",
    help="Deploy the project folder you are in to CRANE, your cloud on this machine, and watch it run.\n\n"
    "Start with: crane login, then crane up in a folder with a compose.yaml.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
# soft_wrap: a long line stays one line when the output is piped (a terminal still wraps it).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Output(str, Enum):
    table = "table"
    json = "json"


OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table (for people) or json (for scripts)")]
AppArg = Annotated[str, typer.Argument(metavar="APP", help="the app's id (e.g. shop-4) or name", show_default=False)]


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def resolve(api: Api, ref: str) -> dict[str, Any]:
    """An app by its id, or by its name among the caller's apps."""
    apps = api.json("GET", "/apps")
    for candidate in apps:
        if candidate["id"] == ref:
            return dict(candidate)
    me = api.json("GET", "/users/me")["id"]
    named = [a for a in apps if a["name"] == ref and a["owner_id"] == me] or [a for a in apps if a["name"] == ref]
    if len(named) == 1:
        return dict(named[0])
    if len(named) > 1:
        raise CliError(f"{len(named)} apps are called {ref!r}: {', '.join(a['id'] for a in named)}; use the id")
    raise CliError(f"no app {ref!r} (crane ps lists yours)", code=3)
