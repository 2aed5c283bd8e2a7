"""Watching: crane logs, events, decisions, scan."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from .api import Api
from .app import AppArg, Output, OutputOption, app, out, print_json, resolve
from .describing import decision_text, event_line, scan_counts


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
    found = resolve(api, app_ref)
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
        params["app"] = resolve(api, app_ref)["id"]
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


def _read(app_ref: str, what: str) -> tuple[dict[str, Any], Any]:
    """An app (by id or name) and one of its resources (GET /apps/{id}/<what>)."""
    api = Api.logged_in()
    found = resolve(api, app_ref)
    return found, api.json("GET", f"/apps/{found['id']}/{what}")


@app.command()
def decisions(app_ref: AppArg, output: OutputOption = Output.table) -> None:
    """The policy's decisions about an app, each with its arithmetic in words.

    [dim]Example:[/]  crane decisions shop
    """
    found, made = _read(app_ref, "decisions")
    if output == Output.json:
        return print_json(made)
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
    found, report = _read(app_ref, "scan")
    if output == Output.json:
        return print_json(report)
    out.print(f"[bold]{found['id']}[/]: {report['status']}")
    for image in report["images"]:
        counts = scan_counts(image.get("counts") or {})
        out.print(f"  {image['image']}: {counts} ({'allowed' if image['allowed'] else 'blocked'})", highlight=False)
        for reason in image.get("reasons", []):
            out.print(f"    - {reason}", highlight=False)
        for finding in image.get("findings", [])[:20]:
            where = finding.get("package") or finding.get("target", "")
            out.out(f"    {finding['severity']:<8} {finding['id']} {where}: {finding.get('title', '')}".rstrip(": "))
    return None
