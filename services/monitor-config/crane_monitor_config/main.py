"""monitor-config wiring: write the suite's Prometheus and Alertmanager configuration at start,
then per-app targets and rules on every app event, and reload Prometheus when they change."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from prometheus_client import Counter
from pydantic import BaseModel

from crane_shared import subjects as s
from crane_shared.appspec import AppStatus
from crane_shared.events import Event, MonitoringUpdated
from crane_shared.secrets import WEBHOOK_TOKEN, read_secret
from crane_shared.service import configure_logging, connect_service_bus, start_metrics_server, stop_on_signals
from crane_shared.store import AppStore

from .files import remove, write_atomically, write_json, write_yaml
from .render import (
    CADENCES,
    Timings,
    alert_names,
    cadence,
    render_alertmanager_config,
    render_prometheus_config,
    render_rules,
    render_targets,
)
from .settings import MonitorSettings

log = logging.getLogger("crane.monitor-config")
RELOADS = Counter("crane_monitoring_reloads_total", "Reloads asked of Prometheus/Alertmanager", ["target", "outcome"])
APP_SUBJECTS = [s.APP_CREATED, s.APP_UPDATED, s.APP_DELETED, s.APP_DEPLOYED, s.APP_SCALED, s.APP_STOPPED, s.APP_REMOVED]


class MonitorConfig:
    def __init__(
        self, settings: MonitorSettings, store: AppStore, announce: Callable[[MonitoringUpdated], Awaitable[object]]
    ) -> None:
        self.settings = settings
        self.announce = announce  # publishes monitoring.updated (in the chain of the app event)
        self.store = store
        self.dir = settings.monitoring_dir
        self.timings = Timings(
            settings.scrape_interval,
            settings.evaluation_interval,
            settings.group_wait,
            settings.group_interval,
            settings.repeat_interval,
            settings.fixed_interval,
        )
        self.http = httpx.AsyncClient(timeout=5)

    def target_file(self, app_id: str, of_cadence: str) -> Path:
        return self.dir / "targets" / of_cadence / f"{app_id}.json"

    def target_files(self, app_id: str) -> list[Path]:
        """Every place the app's targets may be: each cadence's folder, and the folder itself
        (where monitor-config wrote them before apps had cadences)."""
        return [*(self.target_file(app_id, c) for c in CADENCES), self.dir / "targets" / f"{app_id}.json"]

    def rules_file(self, app_id: str) -> Path:
        return self.dir / "rules" / f"{app_id}.yml"

    async def write_suite_config(self, webhook_token: str) -> None:
        token_file = self.dir / "webhook-token"
        write_atomically(token_file, webhook_token, mode=0o600)
        services = [t for t in self.settings.service_metrics_targets.split(",") if t]
        write_yaml(
            self.dir / "prometheus.yml",
            render_prometheus_config(
                str(self.dir),
                self.timings,
                self.settings.alertmanager_target,
                self.settings.traefik_metrics_target,
                services,
            ),
        )
        write_yaml(
            self.dir / "alertmanager.yml",
            render_alertmanager_config(self.settings.alert_bridge_url, str(token_file), self.timings),
        )
        for folder in CADENCES:
            (self.dir / "targets" / folder).mkdir(parents=True, exist_ok=True)
        (self.dir / "rules").mkdir(exist_ok=True)

    async def sync_app(self, app_id: str) -> list[str] | None:
        """Make the app's files match its record: the alerts now watched for it if anything
        changed (none: its files are gone), None if nothing did."""
        record = await self.store.get(app_id)
        if record is None or record.status == AppStatus.DELETING:
            removed = any([remove(path) for path in [*self.target_files(app_id), self.rules_file(app_id)]])
            return [] if removed else None
        rules = render_rules(self.settings.suite, record, self.settings.rate_window, self.settings.fixed_interval)
        target = self.target_file(app_id, cadence(record))
        changed = any([remove(path) for path in self.target_files(app_id) if path != target])  # it changed cadence
        changed = write_json(target, render_targets(app_id, self.settings.exporter_target)) or changed
        changed = write_yaml(self.rules_file(app_id), rules) or changed
        return alert_names(rules) if changed else None

    async def sync_all(self) -> None:
        known = {r.id for r in await self.store.list()}
        on_disk = {p.stem for p in (self.dir / "rules").glob("*.yml")} | {
            p.stem for p in (self.dir / "targets").glob("**/*.json")
        }
        for app_id in known | on_disk:
            await self.sync_app(app_id)
        await self.reload("prometheus", self.settings.prometheus_url)
        await self.reload("alertmanager", self.settings.alertmanager_url)

    async def reload(self, target: str, url: str) -> bool:
        try:
            response = await self.http.post(f"{url.rstrip('/')}/-/reload")
            outcome = "ok" if response.status_code == 200 else f"http {response.status_code}"
        except httpx.HTTPError as exc:
            outcome = f"unreachable: {exc}"
        RELOADS.labels(target, "ok" if outcome == "ok" else "error").inc()
        if outcome != "ok":
            log.warning("reload of %s failed (%s); it will read the files when it starts", target, outcome)
        return outcome == "ok"

    async def on_app_event(self, event: Event, payload: BaseModel) -> None:
        app_id = getattr(payload, "app_id", None) or event.subject
        watched = await self.sync_app(app_id) if app_id else None
        if app_id and watched is not None:
            log.info("monitoring of %s updated", app_id)
            reloaded = await self.reload("prometheus", self.settings.prometheus_url)
            await self.announce(MonitoringUpdated(app_id=app_id, rules=watched, reloaded=reloaded))


async def serve(settings: MonitorSettings) -> None:
    stop = stop_on_signals()
    start_metrics_server(settings.metrics_port)
    bus = await connect_service_bus(settings, "monitor-config")
    monitor = MonitorConfig(
        settings,
        AppStore(await bus.kv(s.APPS_BUCKET)),
        functools.partial(bus.emit, s.MONITORING_UPDATED),
    )
    await monitor.write_suite_config(await read_secret(await bus.kv(s.WEBHOOK_BUCKET), WEBHOOK_TOKEN))
    await monitor.sync_all()
    handlers = {subject: monitor.on_app_event for subject in APP_SUBJECTS}
    consumer = asyncio.create_task(bus.consume("monitor-config", "app.>", handlers, stop))
    log.info("monitor-config ready, writing to %s", settings.monitoring_dir)
    await stop.wait()
    await consumer
    await bus.close()


def run() -> None:
    settings = MonitorSettings()
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
