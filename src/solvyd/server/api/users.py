"""Users: admins manage them; anyone signed in may read their own record."""

import uuid

from fastapi import APIRouter, Response, status

from solvyd.server.api.deps import AsAdmin, AsViewer, Caller, ClientIp, Ctx
from solvyd.server.schemas.users import (
    PasswordChange,
    UserCreate,
    UserList,
    UserRead,
    UserUpdate,
)
from solvyd.server.services import users
from solvyd.server.services.audit import Actor

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="create_user")
async def create_user(ctx: Ctx, admin: AsAdmin, ip: ClientIp, body: UserCreate) -> UserRead:
    user = await users.create_user(
        ctx, body.username, body.password, body.role, Actor.of(admin, ip)
    )
    return UserRead.model_validate(user)


@router.get("", operation_id="list_users")
async def list_users(ctx: Ctx, _: AsAdmin) -> UserList:
    return UserList(items=[UserRead.model_validate(u) for u in await users.list_users(ctx)])


# Before /{user_id}, which would otherwise take "me" for an id.
@router.get("/me", operation_id="get_current_user")
async def get_current_user(user: AsViewer) -> UserRead:
    return UserRead.model_validate(user)


@router.post(
    "/me/password", status_code=status.HTTP_204_NO_CONTENT, operation_id="change_own_password"
)
async def change_own_password(
    ctx: Ctx, caller: Caller, ip: ClientIp, body: PasswordChange
) -> Response:
    """Set your own password, giving the current one (403 if it is not right; failures are
    throttled like logins, 429). Your other login sessions end; this one and your personal
    API tokens stay."""
    await users.change_own_password(ctx, caller, body.current_password, body.new_password, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{user_id}", operation_id="get_user")
async def get_user(ctx: Ctx, _: AsAdmin, user_id: uuid.UUID) -> UserRead:
    return UserRead.model_validate(await users.get_user(ctx, user_id))


@router.patch("/{user_id}", operation_id="update_user")
async def update_user(
    ctx: Ctx, admin: AsAdmin, ip: ClientIp, user_id: uuid.UUID, body: UserUpdate
) -> UserRead:
    """Change the role, the disabled flag or the password. Disabling a user or setting a new
    password ends the user's login sessions; the last enabled admin cannot be demoted or
    disabled (409)."""
    user = await users.update_user(
        ctx,
        user_id,
        Actor.of(admin, ip),
        role=body.role,
        disabled=body.disabled,
        password=body.password,
    )
    return UserRead.model_validate(user)
