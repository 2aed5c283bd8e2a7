"""Accounts: crane login, logout, whoami."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import config
from .api import Api, CliError
from .app import Output, OutputOption, app, err, out, print_json


@app.command()
def login(
    api: Annotated[str | None, typer.Option(help="the CRANE API, e.g. http://localhost:8000")] = None,
    email: Annotated[str | None, typer.Option(help="asked when not given")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
) -> None:
    """Log in and keep the token (in ~/.config/crane, readable by you alone).

    [dim]Examples:[/]  crane login  ·  crane login --api http://10.0.0.5:8000  ·
    echo "$PW" | crane login --email me@example.com --password-stdin
    """
    base = config.api_url(api)
    email = email or typer.prompt("Email")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("Password", hide_input=True)
    client = Api(base)
    token = client.json("POST", "/auth/login", json={"email": email, "password": password})["access_token"]
    me = Api(base, token).json("GET", "/users/me")
    path = config.save(config.Credentials(base, me["email"], token))
    out.print(f"Logged in to {base} as [bold]{me['email']}[/] ({me['role']}); token kept in {path}", highlight=False)


@app.command()
def logout() -> None:
    """Revoke this login's token and forget it."""
    saved = config.load()
    if saved is None:
        out.print("not logged in")
        return
    try:
        Api(saved.api, saved.token).call("POST", "/auth/logout", ok=(200, 204, 401))
    except CliError as exc:  # unreachable: forget it anyway, and say the token may still be valid
        err.print(f"[yellow]{exc}; the token is forgotten here but not revoked[/]")
    config.forget()
    out.print(f"Logged out of {saved.api}")


@app.command()
def whoami(output: OutputOption = Output.table) -> None:
    """Who you are logged in as, and where."""
    api = Api.logged_in()
    me = api.json("GET", "/users/me")
    if output == Output.json:
        print_json({**me, "api": api.base})
        return
    out.print(f"{me['email']} ({me['role']}) at {api.base}", highlight=False)
