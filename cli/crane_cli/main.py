"""The `crane` command: deploy the project folder you are in to CRANE, and watch and steer it."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from . import config
from .api import Api, CliError
from .deploying import up as deploy_up
from .describing import decision_text, event_line
from .project import ProjectError, read_project

app = typer.Typer(
    name="crane",
    help="Deploy the project folder you are in to CRANE, your cloud on this machine, and watch it run.\n\n"
    "Start with: crane login, then crane up in a folder with a compose.yaml.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console()
err = Console(stderr=True)


class Output(str, Enum):
    table = "table"
    json = "json"


OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table (for people) or json (for scripts)")]
AppArg = Annotated[str, typer.Argument(help="the app's id (e.g. shop-4) or name", show_default=False)]


def _json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _resolve(api: Api, ref: str) -> dict[str, Any]:
    """An app by its id, or by its name among the caller's apps."""
    apps = api.json("GET", "/apps")
    for candidate in apps:
        if candidate["id"] == ref:
            return dict(candidate)
    me = api.json("GET", "/users/me")["email"]
    named = [a for a in apps if a["name"] == ref and a["owner"] == me] or [a for a in apps if a["name"] == ref]
    if len(named) == 1:
        return dict(named[0])
    if len(named) > 1:
        raise CliError(f"{len(named)} apps are called {ref!r}: {', '.join(a['id'] for a in named)}; use the id")
    raise CliError(f"no app {ref!r} (crane ps lists yours)", code=3)


# --- accounts -----------------------------------------------------------------------------------


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
        _json({**me, "api": api.base})
        return
    out.print(f"{me['email']} ({me['role']}) at {api.base}", highlight=False)


# --- deploying ----------------------------------------------------------------------------------


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
    me = api.json("GET", "/users/me")["email"]
    try:
        project = read_project(directory, file, name, say=lambda text: out.print(text, highlight=False))
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    running = deploy_up(api, project, out, me, timeout)
    out.print(f"[green]{running['id']} is running[/]: {running['running_replicas']} replicas", highlight=False)
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
            return _json(apps)
        table = Table("ID", "NAME", "STATUS", "REPLICAS", "URL", box=None)
        for a in apps:
            table.add_row(
                a["id"], a["name"], a["status"], f"{a['running_replicas']}/{a['desired_replicas']}", a["url"] or ""
            )
        out.print(table)
        return None
    found = _resolve(api, app_ref)
    if output == Output.json:
        return _json(found)
    out.print(f"[bold]{found['id']}[/] {found['status']}" + (f" ({found['reason']})" if found.get("reason") else ""))
    table = Table("SERVICE", "RUNNING", "DESIRED", "AUTOSCALING", box=None)
    for service in found["services"]:
        scaling = f"{service['min_scale']}..{service['max_scale']}" if service["autoscaling"] else "off"
        table.add_row(service["name"], str(service["running_replicas"]), str(service["desired_replicas"]), scaling)
    out.print(table)
    if found.get("url"):
        out.print(f"URL: {found['url']}", highlight=False)
    return None


@app.command()
def logs(
    app_ref: AppArg,
    service: Annotated[str | None, typer.Argument(help="only this service's replicas")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = False,
    tail: Annotated[int, typer.Option("--tail", "-n", help="lines of each replica's past output")] = 100,
    output: OutputOption = Output.table,
) -> None:
    """An app's logs, each line prefixed with its replica (like docker compose logs).

    [dim]Examples:[/]  crane logs shop  ·  crane logs shop web -f --tail 10
    """
    api = Api.logged_in()
    found = _resolve(api, app_ref)
    params: dict[str, Any] = {"tail": tail, "follow": str(follow).lower()}
    if service:
        params["service"] = service
    colours = ["cyan", "magenta", "green", "yellow", "blue", "red"]
    width = 0
    seen: dict[str, str] = {}
    try:
        for message in api.events(f"/apps/{found['id']}/logs", params=params):
            if message.event == "end":
                break
            line = message.json()
            if output == Output.json:
                sys.stdout.write(json.dumps(line) + "\n")
                sys.stdout.flush()
                continue
            colour = seen.setdefault(line["replica"], colours[len(seen) % len(colours)])
            width = max(width, len(line["replica"]))
            out.print(f"[{colour}]{line['replica']:<{width}} |[/] ", end="", highlight=False)
            out.out(line["line"], highlight=False)
    except KeyboardInterrupt:
        pass


@app.command()
def scale(app_ref: AppArg, replicas: Annotated[list[str], typer.Argument(help="SERVICE=N ...")]) -> None:
    """Set services' replicas.

    [dim]Examples:[/]  crane scale shop web=3  ·  crane scale shop web=3 worker=2
    """
    api = Api.logged_in()
    found = _resolve(api, app_ref)
    for item in replicas:
        service, _, count = item.partition("=")
        if not count.isdigit() or not service:
            raise CliError(f"{item!r}: write SERVICE=N, e.g. web=3")
        api.call("POST", f"/apps/{found['id']}/scale", json={"service": service, "replicas": int(count)})
        out.print(f"{found['id']}: {service} to {count} replicas", highlight=False)


def _action(verb: str) -> Any:
    def command(app_ref: AppArg) -> None:
        api = Api.logged_in()
        found = _resolve(api, app_ref)
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
    found = _resolve(api, app_ref)
    if not yes and not typer.confirm(f"Delete {found['id']} and its data?", default=False):
        raise typer.Exit(1)
    api.call("DELETE", f"/apps/{found['id']}")
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.call("GET", f"/apps/{found['id']}", ok=(200, 404)).status_code == 404:
            out.print(f"{found['id']} is gone")
            return
        time.sleep(0.5)
    raise CliError(f"{found['id']} is still being removed after {timeout:.0f} s")


@app.command()
def export(app_ref: AppArg) -> None:
    """The app as a compose file that runs anywhere with docker compose up.

    [dim]Example:[/]  crane export shop > compose.yaml
    """
    api = Api.logged_in()
    found = _resolve(api, app_ref)
    sys.stdout.write(api.call("GET", f"/apps/{found['id']}/compose").text)


# --- watching -----------------------------------------------------------------------------------


@app.command()
def events(
    app_ref: Annotated[str | None, typer.Argument(metavar="[APP]", help="one app's events")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new events")] = False,
    since: Annotated[float, typer.Option(help="seconds of past events to show")] = 3600,
    output: OutputOption = Output.table,
) -> None:
    """What CRANE did and why: deploys, builds, scans, alerts, decisions with their reasons.

    [dim]Examples:[/]  crane events  ·  crane events shop -f  ·  crane events -o json --since 60
    """
    api = Api.logged_in()
    params: dict[str, Any] = {"follow": str(follow).lower(), "since": since}
    if app_ref is not None:
        params["app"] = _resolve(api, app_ref)["id"]
    try:
        for message in api.events("/events", params=params):
            event = message.json()
            if output == Output.json:
                sys.stdout.write(json.dumps({"sequence": int(message.id or 0), **event}) + "\n")
                sys.stdout.flush()
            else:
                out.out(event_line(event), highlight=False)
    except KeyboardInterrupt:
        pass


@app.command()
def decisions(app_ref: AppArg, output: OutputOption = Output.table) -> None:
    """The policy's decisions about an app, each with its arithmetic in words.

    [dim]Example:[/]  crane decisions shop
    """
    api = Api.logged_in()
    found = _resolve(api, app_ref)
    made = api.json("GET", f"/apps/{found['id']}/decisions")
    if output == Output.json:
        return _json(made)
    if not made:
        out.print(f"no decisions about {found['id']} yet")
    for decision in made:
        out.out(decision_text(decision), highlight=False)
    return None


@app.command()
def scan(app_ref: AppArg, output: OutputOption = Output.table) -> None:
    """What the image scan found in an app's images, and whether it let them run.

    [dim]Example:[/]  crane scan shop
    """
    api = Api.logged_in()
    found = _resolve(api, app_ref)
    report = api.json("GET", f"/apps/{found['id']}/scan")
    if output == Output.json:
        return _json(report)
    out.print(f"[bold]{found['id']}[/]: {report['status']}")
    for image in report["images"]:
        counts = (
            ", ".join(
                f"{n} {level.lower()} {kind}"
                for kind, levels in image.get("counts", {}).items()
                for level, n in levels.items()
                if n
            )
            or "nothing found"
        )
        out.print(f"  {image['image']}: {counts} ({'allowed' if image['allowed'] else 'blocked'})", highlight=False)
        for reason in image.get("reasons", []):
            out.print(f"    - {reason}", highlight=False)
        for finding in image.get("findings", [])[:20]:
            out.out(
                f"    {finding['severity']:<8} {finding['id']} {finding.get('package') or finding.get('target', '')}"
            )
    return None


def main() -> None:
    try:
        app()
    except CliError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
