"""Wiring of policy: consume its subjects with a durable consumer and log them."""

import asyncio

from crane_shared import subjects as s
from crane_shared.service import configure_logging, consume_forever, log_events
from crane_shared.settings import CommonSettings

SERVICE = "policy"
SUBJECTS = [s.ALERT_FIRING, s.ALERT_RESOLVED]


def run() -> None:
    settings = CommonSettings()
    configure_logging(settings.log_level)
    asyncio.run(consume_forever(SERVICE, settings.nats_url, "alert.>", log_events(SERVICE, SUBJECTS)))
