from fastapi import APIRouter

from solvyd.server.api.deps import Ctx, Public
from solvyd.server.schemas.auth import AccessToken, LoginRequest
from solvyd.server.services import users

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", dependencies=[Public], operation_id="login")
async def login(ctx: Ctx, body: LoginRequest) -> AccessToken:
    return AccessToken(access_token=await users.log_in(ctx, body.username, body.password))
