"""Registration, login and the current user."""

from fastapi import APIRouter, HTTPException, status

from ..deps import CurrentUser, GatewayDep
from ..schemas import Login, Token, UserCreate, UserPublic
from ..security import hash_password, verify_password
from ..users import User

router = APIRouter(tags=["auth"])


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
async def register(body: UserCreate, gateway: GatewayDep) -> User:
    email = body.email.lower()
    user = User(email=email, full_name=body.full_name, password_hash=hash_password(body.password))
    if not await gateway.users.create(user):
        raise HTTPException(status.HTTP_409_CONFLICT, f"email {email} is already registered")
    configured_admin = (gateway.settings.admin_email or "").lower() == email
    if configured_admin or (not gateway.settings.admin_email and await gateway.users.claim_first_admin(email)):
        user.role = "admin"
        await gateway.users.save(user)
    return user


@router.post("/auth/login", response_model=Token)
async def login(body: Login, gateway: GatewayDep) -> Token:
    user = await gateway.users.get(body.email)
    if user is None or not verify_password(user.password_hash, body.password):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong email or password")
    return Token(access_token=gateway.tokens.issue(user.email))


@router.get("/users/me", response_model=UserPublic)
async def me(user: CurrentUser) -> User:
    return user
