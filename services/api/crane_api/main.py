"""Gateway wiring: settings, bus connection, signing key, routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import nats.errors
import nats.js.errors
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from crane_shared import subjects as s
from crane_shared.nats_jwt import key_pair
from crane_shared.secrets import SIGNING_KEY, move_secret
from crane_shared.service import configure_logging, connect_service_bus, start_metrics_server
from crane_shared.storage import Storage
from crane_shared.store import AppStore
from crane_shared.tokens import Authenticator, Tokens, load_signing_key
from crane_shared.users import UserStore

from .body_limit import BodyLimit
from .console import default_folder, serve_console
from .deps import Gateway
from .lab import Lab, announcing_on
from .login_limit import LoginLimiter
from .nats_watchers import Callout, publish_views, serve_callout
from .routes import apps, auth, health, lab, metrics, monitoring, policies, streams, users
from .security import hash_password
from .settings import ApiSettings
from .shares import Shares

log = logging.getLogger("crane.api")
# What a request meets while NATS restarts: answered 503 with Retry-After.
BUS_UNAVAILABLE: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoServersError,
    nats.js.errors.ServiceUnavailableError,
)


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = await connect_service_bus(settings, "api")
        config = await bus.kv(s.CONFIG_BUCKET)
        users = UserStore(await bus.kv(s.USERS_BUCKET), config)
        keys = await bus.kv(s.KEYS_BUCKET)
        await move_secret(config, keys, SIGNING_KEY)  # where CRANE before 0.2 kept it
        tokens = Tokens(await load_signing_key(keys), timedelta(minutes=settings.token_ttl_minutes))
        apps_store = AppStore(await bus.kv(s.APPS_BUCKET))
        await apps_store.watch()  # GET /apps reads every app: from memory, not app by app
        if moved := await users.migrate_legacy(apps_store.rename_owner):
            log.info("gave %d accounts from before user ids an id; their apps now name it", moved)
        if settings.admin_email and settings.admin_password_file:
            password = settings.admin_password_file.read_text().strip()
            if await users.ensure_admin(settings.admin_email, hash_password(password)):
                log.info("created the admin account %s", settings.admin_email)
        app.state.gateway = Gateway(
            settings=settings,
            bus=bus,
            apps=apps_store,
            users=users,
            tokens=tokens,
            logins=LoginLimiter(config, settings.login_max_failures, settings.login_window_seconds),
            auth=Authenticator(tokens, users, config),
            lab=Lab(settings.lab_target, settings.app_host, announcing_on(bus)),
            storage=Storage(await bus.kv(s.STORAGE_BUCKET)),
            shares=Shares({"logs": settings.log_streams_per_user, "events": settings.event_streams_per_user}),
        )
        start_metrics_server(settings.metrics_port)
        stop = asyncio.Event()
        views = None
        if settings.nats_callout_seed_file:  # users may watch their own events with NATS directly
            key = key_pair(settings.nats_callout_seed_file.read_bytes().strip())
            await serve_callout(bus, Callout(app.state.gateway.auth, key, settings.nats_view_lease_seconds))
            views = asyncio.create_task(publish_views(bus, app.state.gateway.apps, stop))
        yield
        stop.set()
        await app.state.gateway.lab.close()
        if views is not None:
            await asyncio.gather(views, return_exceptions=True)
        await bus.close()

    app = FastAPI(
        title="CRANE",
        description="A cloud on your own machine: deploy, balance, watch and heal container apps.",
        version="0.1.0",
        lifespan=lifespan,
    )
    v1 = APIRouter(prefix="/api/v1")
    v1.include_router(health.router)
    v1.include_router(auth.router)
    v1.include_router(apps.router)
    v1.include_router(streams.router)
    v1.include_router(metrics.router)
    v1.include_router(lab.router)
    v1.include_router(monitoring.router)
    v1.include_router(policies.router)
    v1.include_router(users.router)
    app.include_router(v1)
    app.include_router(health.router)  # /health as well, for load balancers and compose

    async def bus_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """NATS is restarting or unreachable: say so (503, retry), never a bare 500."""
        log.warning("%s %s: the message bus is unavailable (%r)", request.method, request.url.path, exc)
        return JSONResponse(
            {"detail": "the message bus (NATS) is unavailable; retry in a moment"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    for unavailable in BUS_UNAVAILABLE:
        app.add_exception_handler(unavailable, bus_unavailable)
    app.add_middleware(BodyLimit, max_upload_bytes=settings.max_upload_bytes)
    console = settings.console_dir or default_folder()
    if (console / "index.html").is_file():
        serve_console(app, console)  # last: every other route comes first
    else:
        log.info("no web console at %s (make up builds it); serving the API alone", console)
    return app


def run() -> None:
    settings = ApiSettings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings), host=settings.api_host, port=settings.api_port, log_level=settings.log_level.lower()
    )
