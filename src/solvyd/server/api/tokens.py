"""Personal API tokens: each user makes, lists and revokes their own; admins see and revoke
everyone's."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from solvyd.server.api.deps import Caller, ClientIp, Ctx
from solvyd.server.auth.roles import Role
from solvyd.server.db.models import ApiToken
from solvyd.server.schemas.tokens import TokenCreate, TokenCreated, TokenList, TokenRead
from solvyd.server.services import api_tokens
from solvyd.server.services.audit import Actor
from solvyd.server.services.errors import Forbidden

router = APIRouter(prefix="/tokens", tags=["tokens"])


def _read(token: ApiToken) -> TokenRead:
    return TokenRead(
        id=token.id,
        user_id=token.user_id,
        name=token.name,
        scopes=list(token.scopes),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked=token.revoked_at is not None,
        revoked_at=token.revoked_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="create_token")
async def create_token(ctx: Ctx, caller: Caller, ip: ClientIp, body: TokenCreate) -> TokenCreated:
    """A token for the caller, shown in `token` this once: the server keeps only its hash.
    Made with a personal token, it expires no later than that token."""
    token, value = await api_tokens.create_token(
        ctx,
        caller.user,
        caller.role,
        body.name,
        list(body.scopes),
        body.expires_in_days,
        Actor.of(caller.user, ip),
        not_after=caller.token_expires_at,
    )
    return TokenCreated(**_read(token).model_dump(), token=value)


@router.get("", operation_id="list_tokens")
async def list_tokens(
    ctx: Ctx,
    caller: Caller,
    user_id: uuid.UUID | None = None,
    everyone: Annotated[bool, Query(alias="all")] = False,
) -> TokenList:
    """The caller's tokens; an admin may ask for one user's (`user_id`) or everyone's
    (`all=true`)."""
    if (user_id is not None or everyone) and caller.role is not Role.ADMIN:
        raise Forbidden("only admins may list the tokens of others")
    owner = None if everyone else user_id or caller.user.id
    return TokenList(items=[_read(t) for t in await api_tokens.list_tokens(ctx, owner)])


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="revoke_token")
async def revoke_token(ctx: Ctx, caller: Caller, ip: ClientIp, token_id: uuid.UUID) -> Response:
    """Revoke one of the caller's tokens (an admin: anyone's); it stops working at once."""
    await api_tokens.revoke_token(
        ctx, token_id, caller.user, caller.role, Actor.of(caller.user, ip)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
