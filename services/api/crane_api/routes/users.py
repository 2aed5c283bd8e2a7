"""User administration (admins only): list users, change a role or name, delete a user,
revoke every token a user holds."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from crane_shared.users import Quota, User

from ..deps import AdminUser, GatewayDep
from ..schemas import UserPublic

router = APIRouter(prefix="/users", tags=["users"])
Email = Annotated[str, Path(min_length=3, max_length=320)]


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "admin"] | None = None
    full_name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    # A quota of the user's own; null puts the user back on the admission policy's default.
    quota: Quota | None = None


async def _existing(gateway: GatewayDep, email: str) -> User:
    user = await gateway.users.get(email)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {email!r}")
    return user


@router.get("", response_model=list[UserPublic])
async def list_users(admin: AdminUser, gateway: GatewayDep) -> list[User]:
    return await gateway.users.all()


@router.patch("/{email}", response_model=UserPublic)
async def update_user(email: Email, body: UserUpdate, admin: AdminUser, gateway: GatewayDep) -> User:
    user = await _existing(gateway, email)
    if body.role is not None:
        user.role = body.role
    if body.full_name is not None:
        user.full_name = body.full_name
    if "quota" in body.model_fields_set:
        user.quota = body.quota
    await gateway.users.save(user)
    return user


@router.delete("/{email}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(email: Email, admin: AdminUser, gateway: GatewayDep) -> None:
    """The account goes; its apps stay (an admin sees and can delete them)."""
    await _existing(gateway, email)
    await gateway.users.delete(email)


@router.post("/{email}/revoke-tokens", response_model=UserPublic)
async def revoke_tokens(email: Email, admin: AdminUser, gateway: GatewayDep) -> User:
    """Every token issued to the user so far stops working; logging in again gives a new one."""
    user = await _existing(gateway, email)
    user.tokens_valid_after = time.time()
    await gateway.users.save(user)
    return user
