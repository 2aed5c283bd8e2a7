"""Registration, login and the current user."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crane_shared.users import User

from ..deps import CurrentUser, GatewayDep
from ..schemas import Login, Me, StorageUse, Token, UserCreate, UserPublic
from ..security import hash_password, verify_password

router = APIRouter(tags=["auth"])


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def register(body: UserCreate, gateway: GatewayDep) -> User:
    email = body.email.lower()
    configured_admin = (gateway.settings.admin_email or "").lower() == email
    if configured_admin and (gateway.settings.admin_password_file or not await gateway.users.claim_first_admin(email)):
        # The suite makes this account at its start (or, with no password file, it is registered
        # once in the suite's life): registering it again, after it was deleted, would make a
        # stranger admin.
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"email {email} is the suite's admin account (CRANE_ADMIN_EMAIL): not registered"
        )
    user = User(email=email, full_name=body.full_name, password_hash=hash_password(body.password))
    if not await gateway.users.create(user):
        raise HTTPException(status.HTTP_409_CONFLICT, f"email {email} is already registered")
    if configured_admin or (not gateway.settings.admin_email and await gateway.users.claim_first_admin(email)):
        user.role = "admin"
        await gateway.users.save(user)
    return user


@router.post("/auth/login", response_model=Token, responses={429: {"description": "too many failed logins"}})
async def login(body: Login, request: Request, gateway: GatewayDep) -> Token:
    """A token for the user. Each attempt takes a slot of its address's budgets before the
    password is checked (login_limit.py); past them, 429 with Retry-After."""
    address = request.client.host if request.client else "unknown"
    wait = await gateway.logins.reserve(body.email, address)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins from this address; try again in {wait:.0f} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    user = await gateway.users.by_email(body.email)
    if user is None or not verify_password(user.password_hash, body.password):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong email or password")
    await gateway.logins.succeeded(body.email, address)
    return Token(access_token=gateway.tokens.issue(user.id))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    user: CurrentUser,
    gateway: GatewayDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))],
) -> None:
    """Revoke the token this request carries (others of the user stay valid)."""
    if credentials is not None:
        await gateway.auth.revoke(str(gateway.tokens.claims(credentials.credentials)["jti"]))


@router.get("/users/me", response_model=Me)
async def me(user: CurrentUser, gateway: GatewayDep) -> Me:
    usage = await gateway.storage.usage(user.id)
    quota = gateway.settings.storage_quota_bytes(user)
    return Me.of(
        user, StorageUse(uploads_bytes=usage.stored_bytes, build_cache_bytes=usage.build_cache_bytes, quota_bytes=quota)
    )
