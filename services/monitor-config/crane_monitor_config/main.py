"""Wiring of monitor-config: consume its subjects with a durable consumer and log them."""

from crane_shared import subjects as s
from crane_shared.service import run_logging_service


def run() -> None:
    run_logging_service("monitor-config", "app.>", [s.APP_DEPLOYED, s.APP_SCALED, s.APP_STOPPED, s.APP_REMOVED])
