"""FastAPI dependencies: the gateway's connections and the authenticated user."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crane_shared.appspec import AppRecord
from crane_shared.bus import Bus
from crane_shared.servicespec import APP_ID_PATTERN
from crane_shared.storage import Storage
from crane_shared.store import AppStore
from crane_shared.tokens import Authenticator, TokenError, Tokens
from crane_shared.users import User, UserStore

from .lab import Lab
from .login_limit import LoginLimiter
from .settings import ApiSettings
from .shares import Shares


@dataclass
class Gateway:
    """Everything a request handler may use; built once at startup."""

    settings: ApiSettings
    bus: Bus
    apps: AppStore
    users: UserStore
    tokens: Tokens
    logins: LoginLimiter
    auth: Authenticator
    lab: Lab
    storage: Storage
    shares: Shares


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
_bearer = HTTPBearer(auto_error=False)


async def current_user(
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
    )
    if credentials is None:
        raise unauthorized
    try:
        return await gateway.auth.user(credentials.credentials)
    except TokenError:
        raise unauthorized from None


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs the admin role")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


async def upload_spool(gateway: GatewayDep) -> AsyncIterator[Path]:
    """A folder for one request's uploaded archives, removed when the request is done."""
    with tempfile.TemporaryDirectory(prefix="crane-upload-", dir=gateway.settings.upload_rules.spool_dir) as folder:
        yield Path(folder)


UploadSpool = Annotated[Path, Depends(upload_spool)]


AppId = Annotated[str, PathParam(pattern=APP_ID_PATTERN, max_length=64, description="e.g. shop-7")]


async def visible_app(gateway: Gateway, user: User, app_id: str) -> AppRecord:
    """The app ``app_id`` if the user may see it; another user's app answers 404, like a missing one."""
    record = await gateway.apps.get(app_id)
    if record is None or not (user.is_admin or record.owner == user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no app {app_id!r}")
    return record


async def owned_app(app_id: AppId, user: CurrentUser, gateway: GatewayDep) -> AppRecord:
    return await visible_app(gateway, user, app_id)


OwnedApp = Annotated[AppRecord, Depends(owned_app)]
