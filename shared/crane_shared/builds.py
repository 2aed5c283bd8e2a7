"""Build records: each app's latest builds with their logs, in the builds bucket under
``app.<id>`` (written by the deployer, read by the API for GET /apps/{id}/builds)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from .appspec import utcnow

KEPT_BUILDS = 20
MAX_LOG_CHARS = 64 * 1024  # the end of a longer log is kept: that is where errors are


INTERRUPTED = "interrupted: the deployer stopped during the build (built again after its restart)"


def builds_key(app_id: str) -> str:
    return f"app.{app_id}"


class BuildRecord(BaseModel):
    """One build of one service's image."""

    id: str
    app_id: str
    service: str
    context: str
    image: str
    status: Literal["running", "succeeded", "failed"] = "running"
    error: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    seconds: float | None = None
    log: str = ""

    def finished(self, status: Literal["succeeded", "failed"], log: str, error: str | None = None) -> BuildRecord:
        now = utcnow()
        return self.model_copy(
            update={
                "status": status,
                "error": error,
                "finished_at": now,
                "seconds": round((now - self.started_at).total_seconds(), 3),
                "log": log[-MAX_LOG_CHARS:],
            }
        )


class AppBuilds(BaseModel):
    """The value under ``app.<id>``: the latest builds, newest last."""

    builds: list[BuildRecord] = Field(default_factory=list)

    def with_build(self, record: BuildRecord) -> AppBuilds:
        """With ``record`` added (or updated). A build of the same service that still says
        running was cut off (its deployer stopped): it is marked failed, saying so."""
        kept = [
            b.finished("failed", b.log, INTERRUPTED)
            if b.status == "running" and b.service == record.service and b.id != record.id
            else b
            for b in self.builds
            if b.id != record.id
        ]
        return AppBuilds(builds=[*kept, record][-KEPT_BUILDS:])
