"""The `crane` command: deploy the project folder you are in to CRANE, and watch and steer it."""

from __future__ import annotations

import sys

from . import account, commands, watch  # noqa: F401 - each registers its commands on the app
from .api import CliError
from .app import app, err


def main() -> None:
    try:
        app()
    except CliError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
