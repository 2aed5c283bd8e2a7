"""Wiring of policy: consume its subjects with a durable consumer and log them."""

from crane_shared import subjects as s
from crane_shared.service import run_logging_service


def run() -> None:
    run_logging_service("policy", "alert.>", [s.ALERT_FIRING, s.ALERT_RESOLVED])
