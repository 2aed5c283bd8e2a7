"""User administration (admins only): list users, change a role or name, delete a user,
revoke every token a user holds."""

from __future__ import annotations

import functools
import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from crane_shared import subjects as s
from crane_shared.appspec import AppRecord, AppStatus
from crane_shared.events import AppDeleted, new_event
from crane_shared.users import Quota, User

from ..deps import AdminUser, GatewayDep
from ..schemas import UserPublic
from .apps import SOURCE

router = APIRouter(prefix="/users", tags=["users"])
Email = Annotated[str, Path(min_length=3, max_length=320)]


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "admin"] | None = None
    full_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    # A quota of the user's own; null puts the user back on the admission policy's default.
    quota: Quota | None = None


async def _existing(gateway: GatewayDep, email: str) -> User:
    user = await gateway.users.by_email(email)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {email!r}")
    return user


@router.get("", response_model=list[UserPublic])
async def list_users(admin: AdminUser, gateway: GatewayDep) -> list[User]:
    return await gateway.users.all()


@router.patch("/{email}", response_model=UserPublic)
async def update_user(email: Email, body: UserUpdate, admin: AdminUser, gateway: GatewayDep) -> User:
    user = await _existing(gateway, email)
    if body.role is not None and body.role != user.role:
        user.role = body.role
        # Tokens, streams and NATS views opened under the old role end (streams at their next
        # check, NATS views at their lease's end): the user logs in again under the new one.
        user.tokens_valid_after = time.time()
    if body.full_name is not None:
        user.full_name = body.full_name
    if "quota" in body.model_fields_set:
        user.quota = body.quota
    await gateway.users.save(user)
    return user


@router.delete("/{email}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    email: Email,
    admin: AdminUser,
    gateway: GatewayDep,
    apps: Annotated[Literal["remove", "reassign"], Query(description="what happens to the user's apps")] = "remove",
    to: Annotated[str | None, Query(description="with apps=reassign: the user who gets them")] = None,
) -> None:
    """The account goes, and its apps with it (``apps=remove``, the default), or to another
    user (``apps=reassign&to=<email>``). Nobody who registers the email later gets anything of
    the old account's: apps, tokens and events belong to the user's id, which is never reused."""
    user = await _existing(gateway, email)
    heir: User | None = None
    if apps == "reassign":
        if not to:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "to: name the user who gets the apps")
        heir = await _existing(gateway, to)
        if heir.id == user.id:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "to: the apps need another owner")
    change = functools.partial(_owned_by, heir=heir)
    for record in [r for r in await gateway.apps.list() if r.owner == user.id]:
        changed = await gateway.apps.mutate(record.id, change)
        if heir is not None and changed is not None:  # its uploads are the heir's to build and mount
            await gateway.storage.adopt([changed], gateway.storage.recorded_size)
        if heir is None:
            await gateway.bus.publish(new_event(s.APP_DELETED, AppDeleted(app_id=record.id), source=SOURCE))
    user.tokens_valid_after = time.time()
    await gateway.users.save(user)  # its tokens die with it, even one checked before the delete lands
    await gateway.users.delete(user)


def _owned_by(record: AppRecord, heir: User | None) -> AppRecord:
    """The app goes to ``heir``, or (None) stays its deleted owner's while it is removed."""
    if heir is None:
        record.status = AppStatus.DELETING
    else:
        record.owner, record.owner_email = heir.id, heir.email
    return record


@router.post("/{email}/revoke-tokens", response_model=UserPublic)
async def revoke_tokens(email: Email, admin: AdminUser, gateway: GatewayDep) -> User:
    """Every token issued to the user so far stops working; logging in again gives a new one."""
    user = await _existing(gateway, email)
    user.tokens_valid_after = time.time()
    await gateway.users.save(user)
    return user
