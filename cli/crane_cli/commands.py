"""Deploying and steering apps: crane up, ps, scale, start, stop, restart, down, export."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .api import Api, CliError
from .app import AppArg, Output, OutputOption, app, err, out, print_json, resolve
from .deploying import up as deploy_up
from .describing import replicas as replicas_text
from .project import COMPOSE_NAMES, ProjectError, read_project


@app.command()
def up(
    file: Annotated[
        str | None, typer.Option("--file", "-f", help="the compose file (default: compose.yaml here)")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="the app's name (default: the file's name:, or the folder's)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the app to run")] = 600,
    directory: Annotated[Path, typer.Option("--directory", "-C", help="the project folder")] = Path("."),
) -> None:
    """Deploy the project here and follow it until it runs.

    Uploads the compose file with its build contexts (.dockerignore honoured), secrets, configs
    and env files; creates the app, or updates yours of the same name.

    [dim]Examples:[/]  crane up  ·  crane up -f compose.prod.yaml --name shop
    """
    api = Api.logged_in()
    me = api.json("GET", "/users/me")["id"]
    try:
        project = read_project(directory, file, name, say=lambda text: out.print(text, highlight=False))
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    running = deploy_up(api, project, out, me, timeout)
    out.print(f"[green]{running['id']} is running[/]: {replicas_text(running['running_replicas'])}", highlight=False)
    if running.get("url"):
        out.print(f"  {running['url']}", highlight=False)


@app.command()
def ps(app_ref: Annotated[str | None, typer.Argument(metavar="[APP]", help="one app's services")] = None,
       output: OutputOption = Output.table) -> None:  # fmt: skip
    """Your apps (admins: everyone's), or one app's services with their replicas.

    [dim]Examples:[/]  crane ps  ·  crane ps shop  ·  crane ps -o json
    """
    api = Api.logged_in()
    if app_ref is None:
        apps = api.json("GET", "/apps")
        if output == Output.json:
            return print_json(apps)
        if not apps:
            out.print("no apps yet: crane up deploys the project in this folder", highlight=False)
            return None
        table = Table("ID", "NAME", "STATUS", "REPLICAS", "URL", box=None)
        for a in apps:
            table.add_row(
                a["id"], a["name"], a["status"], f"{a['running_replicas']}/{a['desired_replicas']}", a["url"] or ""
            )
        out.print(table)
        return None
    found = resolve(api, app_ref)
    if output == Output.json:
        return print_json(found)
    out.print(f"[bold]{found['id']}[/] {found['status']}" + (f" ({found['reason']})" if found.get("reason") else ""))
    table = Table("SERVICE", "RUNNING", "DESIRED", "AUTOSCALING", box=None)
    for service in found["services"]:
        scaling = f"{service['min_scale']}..{service['max_scale']}" if service["autoscaling"] else "off"
        table.add_row(service["name"], str(service["running_replicas"]), str(service["desired_replicas"]), scaling)
    out.print(table)
    running = api.json("POST", f"/apps/{found['id']}/stats")["containers"]
    if running:
        replicas_table = Table("REPLICA", "SERVICE", "CPU", "MEMORY", box=None)
        for replica in sorted(running, key=lambda r: r["container"]):
            memory = f"{replica['memory_bytes'] / 2**20:.0f} MiB"
            if replica.get("memory_limit_bytes"):
                memory += f" of {replica['memory_limit_bytes'] / 2**20:.0f}"
            replicas_table.add_row(replica["container"], replica["service"], f"{replica['cpu_percent']:.1f}%", memory)
        out.print(replicas_table)
    if found.get("url"):
        out.print(f"URL: {found['url']}", highlight=False)
    return None


@app.command()
def scale(app_ref: AppArg, replicas: Annotated[list[str], typer.Argument(help="SERVICE=N ...")]) -> None:
    """Set services' replicas.

    [dim]Examples:[/]  crane scale shop web=3  ·  crane scale shop web=3 worker=2
    """
    api = Api.logged_in()
    found = resolve(api, app_ref)
    for item in replicas:
        service, _, count = item.partition("=")
        if not count.isdigit() or not service:
            raise CliError(f"{item!r}: write SERVICE=N, e.g. web=3")
        api.call("POST", f"/apps/{found['id']}/scale", json={"service": service, "replicas": int(count)})
        out.print(f"{found['id']}: {service} to {replicas_text(int(count))}", highlight=False)


def _action(verb: str) -> Any:
    def command(app_ref: AppArg) -> None:
        api = Api.logged_in()
        found = resolve(api, app_ref)
        changed = api.json("POST", f"/apps/{found['id']}/{verb}")
        out.print(f"{found['id']}: {verb} asked ({changed['status']})", highlight=False)

    command.__doc__ = f"{verb.capitalize()} an app.\n\n[dim]Example:[/]  crane {verb} shop"
    return command


for _verb in ("start", "stop", "restart"):
    app.command(name=_verb)(_action(_verb))


@app.command()
def down(
    app_ref: AppArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait until it is gone")] = 120,
) -> None:
    """Delete an app: its replicas, networks, volumes and images built for it.

    [dim]Examples:[/]  crane down shop  ·  crane down shop -y
    """
    api = Api.logged_in()
    found = resolve(api, app_ref)
    if not yes and not typer.confirm(f"Delete {found['id']} and its data?", default=False):
        raise typer.Exit(1)
    api.call("DELETE", f"/apps/{found['id']}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.call("GET", f"/apps/{found['id']}", ok=(200, 404)).status_code == 404:
            out.print(f"{found['id']} is gone")
            return
        time.sleep(0.5)
    raise CliError(f"{found['id']} is still being removed after {timeout:.0f} s")


@app.command()
def export(
    app_ref: AppArg,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="write it to this file (one that exists is kept, unless --force)"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace the --output file if it exists")] = False,
) -> None:
    """The app as a compose file that runs anywhere with docker compose up.

    Values are written out (a .env's variables filled in), so never over your project's own
    compose file: -o refuses to replace a file that exists unless --force.

    [dim]Examples:[/]  crane export shop -o shop-export.yaml  ·  crane export shop | less
    """
    api = Api.logged_in()
    found = resolve(api, app_ref)
    text = api.call("GET", f"/apps/{found['id']}/compose").text
    if output is None:
        if _is_a_project_compose_file(sys.stdout):
            err.print(
                "[yellow]warning:[/] the output goes over this folder's own compose file (your shell emptied "
                "it before crane ran); next time use [bold]crane export -o FILE[/]",
                highlight=False,
            )
        sys.stdout.write(text)
        return
    if output.exists() and not force:
        raise CliError(f"{output} exists (your project's own compose file?); name another with -o, or add --force")
    output.write_text(text)
    err.print(f"wrote {output} ({len(text.splitlines())} lines): docker compose -f {output} up -d", highlight=False)


def _is_a_project_compose_file(stream: Any) -> bool:
    """Whether ``stream`` is a file Compose would read as this folder's project file."""
    try:
        written = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    for name in COMPOSE_NAMES:
        try:
            here = os.stat(name)
        except OSError:
            continue
        if (here.st_dev, here.st_ino) == (written.st_dev, written.st_ino):
            return True
    return False
