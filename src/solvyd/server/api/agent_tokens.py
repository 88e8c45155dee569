"""Agent registration tokens (admins): what `solvyd agent` presents to register (from
SOLVYD_AGENT_TOKEN or `--token-file`), besides the server's own SOLVYD_AGENT_TOKEN."""

import uuid

from fastapi import APIRouter, Response, status

from solvyd.server.api.deps import AsAdmin, ClientIp, Ctx
from solvyd.server.db.models import AgentRegistrationToken
from solvyd.server.schemas.tokens import (
    AgentTokenCreate,
    AgentTokenCreated,
    AgentTokenList,
    AgentTokenRead,
)
from solvyd.server.services import agent_tokens
from solvyd.server.services.audit import Actor

router = APIRouter(prefix="/agent-tokens", tags=["agent tokens"])


def _read(token: AgentRegistrationToken) -> AgentTokenRead:
    return AgentTokenRead(
        id=token.id,
        name=token.name,
        labels=token.labels,
        created_by=token.created_by,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked=token.revoked_at is not None,
        revoked_at=token.revoked_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="create_agent_token")
async def create_agent_token(
    ctx: Ctx, admin: AsAdmin, ip: ClientIp, body: AgentTokenCreate
) -> AgentTokenCreated:
    """A registration token, shown in `token` this once: the server keeps only its hash.
    With `labels`, workers registered with it may have and claim only those labels."""
    token, value = await agent_tokens.create_token(ctx, body.name, body.labels, Actor.of(admin, ip))
    return AgentTokenCreated(**_read(token).model_dump(), token=value)


@router.get("", operation_id="list_agent_tokens")
async def list_agent_tokens(ctx: Ctx, _: AsAdmin) -> AgentTokenList:
    return AgentTokenList(items=[_read(t) for t in await agent_tokens.list_tokens(ctx)])


@router.delete(
    "/{token_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="revoke_agent_token"
)
async def revoke_agent_token(
    ctx: Ctx, admin: AsAdmin, ip: ClientIp, token_id: uuid.UUID
) -> Response:
    """No new agent can register with it; agents registered with it keep their worker
    tokens."""
    await agent_tokens.revoke_token(ctx, token_id, Actor.of(admin, ip))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
