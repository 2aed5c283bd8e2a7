"""Reading an app from a request body: JSON (the App payload) or a Compose file (YAML).
Every problem becomes a 422 whose ``loc`` names the field."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from crane_shared.appspec import AppSpec
from crane_shared.compose import ComposeError, parse_compose

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
MAX_BODY_BYTES = 256 * 1024


def field_errors(problems: list[tuple[tuple[Any, ...], str]]) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", *loc), "msg": msg, "input": None} for loc, msg in problems]
    )


def validation_errors(exc: ValidationError, prefix: tuple[Any, ...] = ("body",)) -> RequestValidationError:
    return RequestValidationError(
        [{**err, "loc": (*prefix, *err["loc"])} for err in exc.errors(include_url=False, include_context=False)]
    )


def event_errors(message: str) -> RequestValidationError:
    """Turn an InvalidEvent text ("data.replicas: msg; ...") into field errors under body."""
    problems = []
    for part in message.split("; "):
        path, _, msg = part.partition(": ")
        loc = tuple(p for p in path.split(".") if p and p != "data")
        problems.append((loc, msg or part))
    return field_errors(problems)


async def read_app_spec(request: Request) -> tuple[AppSpec, list[str]]:
    """The app a request body describes, and the warnings of its compose file."""
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise field_errors([((), f"body larger than {MAX_BODY_BYTES} bytes")])
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in YAML_TYPES:
        try:
            app = parse_compose(raw)
            return app.spec, app.warnings
        except ComposeError as exc:
            raise field_errors(exc.problems) from None
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise field_errors([((), f"not valid JSON: {exc}")]) from None
    try:
        return AppSpec.model_validate(body), []
    except ValidationError as exc:
        raise validation_errors(exc) from None


APP_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/AppSpec"}},
            "application/yaml": {
                "schema": {"type": "string", "description": "a Compose file; CRANE settings under x-crane"}
            },
        },
    }
}
