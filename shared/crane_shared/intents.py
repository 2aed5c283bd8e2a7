"""Pure rules for applying an intent event to an app record.

The API applies them for read-your-writes before it publishes; the deployer applies the same
rules when it consumes the event (a no-op when the API already did), so clients that publish
straight to NATS get exactly the behaviour of the REST routes.
"""

from __future__ import annotations

from pydantic import ValidationError

from .appspec import AppRecord, AppStatus, ScaleRefused, scale_service
from .events import AppUpdated, InvalidEvent, describe_validation_error


class ScaleConflict(InvalidEvent):
    """A scale the app's state forbids (e.g. a second replica over a service's only volume)."""


def apply_update(record: AppRecord, update: AppUpdated) -> AppRecord:
    """The record with ``update`` applied; raises InvalidEvent naming the field if it does not
    fit, ScaleConflict when the service must not be scaled so."""
    spec = update.spec or record.spec
    if update.replicas is not None:
        try:
            spec = scale_service(spec, update.service, update.replicas)
        except ValidationError as exc:
            raise InvalidEvent(describe_validation_error(exc, prefix="data")) from None
        except ScaleRefused as exc:
            raise ScaleConflict(f"data.replicas: {exc}") from None
        except ValueError as exc:
            raise InvalidEvent(f"data.{exc}") from None
    record.spec = spec
    if update.desired_state:
        record.desired_state = update.desired_state
    if record.status in (AppStatus.RUNNING, AppStatus.STOPPED, AppStatus.FAILED):
        record.status = AppStatus.DEPLOYING if record.desired_state == "running" else record.status
        record.reason = None
    return record


def apply_restart(record: AppRecord, token: str) -> AppRecord:
    """Ask for every replica to be replaced once; ``token`` (the event id) makes it idempotent."""
    record.restart_token = token
    if record.desired_state == "running":
        record.status = AppStatus.DEPLOYING
    return record
