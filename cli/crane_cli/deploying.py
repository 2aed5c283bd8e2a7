"""`crane up`: upload the project, then tell what CRANE does with it (each build's output, the
scan's verdict, replicas coming up) until the app runs (exit 0) or fails (the reason, exit 1)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from .api import Api, CliError, SseMessage
from .describing import DONE, replicas, scan_counts
from .multipart import chunked, encode
from .project import Project
from .watching import EventWatcher

SETTLED = ("running", "failed", "stopped")
SETTLING_EVENTS = ("app.deployed", "app.scaled", "app.failed", "build.failed")  # look at the app at once
LOOK_SECONDS = 0.5


def existing_app(api: Api, name: str, owner: str) -> dict[str, Any] | None:
    """The app called ``name`` that the user ``owner`` (a user id) owns, if any."""
    for app in api.json("GET", "/apps"):
        if app["name"] == name and app["owner_id"] == owner:
            return dict(app)
    return None


def up(api: Api, project: Project, console: Console, owner: str, timeout: float) -> dict[str, Any]:
    for warning in project.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    current = existing_app(api, project.name, owner)
    watcher = EventWatcher(api).start()
    body, content_type = encode(project.parts)
    for part in project.parts:
        console.print(f"  {part.note or part.name}", highlight=False)
    verb = f"updating {current['id']}" if current else f"creating {project.name}"
    app = _upload(api, console, body, content_type, current, project.name, verb)
    console.print(f"[bold]{app['id']}[/]: accepted ({app['status']})")
    for warning in app.get("warnings") or []:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    return _follow(api, watcher, console, app["id"], timeout, created=current is None)


def _upload(
    api: Api, console: Console, body: bytes, content_type: str, current: dict[str, Any] | None, name: str, verb: str
) -> dict[str, Any]:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    method, path = ("PATCH", f"/apps/{current['id']}") if current else ("POST", "/apps")
    params = {} if current else {"name": name}
    if console.is_terminal:
        with Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=console, transient=False,
        ) as progress:  # fmt: skip
            task = progress.add_task(verb, total=len(body))
            stream = chunked(body, lambda n: progress.advance(task, n))
            return dict(api.json(method, path, params=params, content=stream, headers=headers, timeout=600))
    console.print(f"{verb}: uploading {len(body):,} bytes")
    return dict(
        api.json(method, path, params=params, content=chunked(body, lambda _: None), headers=headers, timeout=600)
    )


def _follow(
    api: Api, watcher: EventWatcher, console: Console, app_id: str, timeout: float, created: bool
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    shown: dict[str, str] = {}
    failure: str | None = None
    next_look = 0.0
    while time.monotonic() < deadline:
        message = watcher.next(timeout=0.1)
        if message is not None:
            failure = _tell(console, message, app_id) or failure
            if message.event not in SETTLING_EVENTS and time.monotonic() < next_look:
                continue
        elif time.monotonic() < next_look:
            continue
        next_look = time.monotonic() + LOOK_SECONDS
        app = api.json("GET", f"/apps/{app_id}")
        _replicas(console, app, shown)
        if app["status"] == "failed":
            raise CliError(f"{app_id} failed: {app.get('reason') or failure}\n{_what_is_left(app_id, created)}")
        if app["status"] in SETTLED and (
            app["status"] != "running" or app["running_replicas"] >= app["desired_replicas"]
        ):
            return dict(app)
    raise CliError(
        f"{app_id} is still deploying after {timeout:.0f} s: see crane ps {app_id} and crane events {app_id}"
    )


def _what_is_left(app_id: str, created: bool) -> str:
    left = (
        f"The app {app_id} is kept, failed, for you to look at"
        if created
        else f"Replicas of {app_id} that ran before this change keep running"
    )
    return (
        f"{left}: crane events {app_id}, crane logs {app_id}. Fix the project and run crane up again "
        f"(it updates {app_id}), or remove the app: crane down {app_id}"
    )


def _replicas(console: Console, app: dict[str, Any], shown: dict[str, str]) -> None:
    for service in app["services"]:
        now = f"{service['running_replicas']}/{service['desired_replicas']}"
        if shown.get(service["name"]) != now:
            shown[service["name"]] = now
            console.print(f"  {service['name']}: {now} running", highlight=False)


def _tell(console: Console, message: SseMessage, app_id: str) -> str | None:
    """Print what an event of this app says; a failure's reason is returned."""
    event = message.json()
    if event.get("subject") != app_id:
        return None
    data = event.get("data", {})
    kind = message.event
    if kind == "build.started":
        console.print(f"[cyan]building[/] {data['service']} (context {data['context'][:12]})", highlight=False)
    elif kind == "build.progress":
        for line in data.get("lines", []):
            console.out(f"  {data['service']} | {line}", highlight=False)
    elif kind == "build.completed":
        how = "unchanged, not rebuilt" if data.get("cached") else f"built in {data.get('seconds', 0):.1f} s"
        console.print(f"[green]image[/] of {data['service']}: {how}", highlight=False)
    elif kind == "build.failed":
        console.print(f"[red]build of {data['service']} failed:[/] {data.get('error')}", highlight=False)
        return f"the build of {data['service']} failed: {data.get('error')}"
    elif kind == "scan.completed":
        summary = scan_counts(data.get("counts") or {})
        verdict = "allowed" if data.get("allowed") else "[red]blocked[/]"
        console.print(f"scan of {data['image']}: {summary}: {verdict}", highlight=False)
        if not data.get("allowed"):
            for reason in data.get("reasons", []):
                console.print(f"  - {reason}", highlight=False)
            for finding in data.get("findings", [])[:10]:
                where = finding.get("package") or finding.get("target") or ""
                console.out(f"    {finding.get('severity')} {finding.get('id')} {where}: {finding.get('title')}")
            return "the image scan blocked it: " + "; ".join(data.get("reasons", []))
    elif kind in ("app.deployed", "app.scaled"):
        console.print(f"{DONE[kind]}: {replicas(data.get('replicas', 0))} ready", highlight=False)
    elif kind == "container.died":
        console.print(
            f"[yellow]replica {data.get('container')} exited[/] (code {data.get('exit_code')})", highlight=False
        )
    elif kind == "app.failed":
        return str(data.get("reason", "failed"))
    return None
