"""Users: admins manage them; anyone signed in may read their own record."""

import uuid

from fastapi import APIRouter, status

from solvyd.server.api.deps import AsAdmin, AsViewer, ClientIp, Ctx
from solvyd.server.schemas.users import UserCreate, UserList, UserRead, UserUpdate
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
