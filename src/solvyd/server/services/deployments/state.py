"""What an agent is told of a deployment (protocol.DeploymentState)."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.protocol import DeploymentLogLine, DeploymentState
from solvyd.server.db.models import Deployment, Environment
from solvyd.server.services.deployments.queue import waiting_reasons


async def agent_state(
    session: AsyncSession, deployment: Deployment, after_line: int = 0
) -> DeploymentState:
    reasons = await waiting_reasons(session, [deployment])
    environment = await session.scalar(
        sa.select(Environment.name).where(Environment.id == deployment.environment_id)
    )
    lines = list(deployment.log or [])
    start = max(0, min(after_line, len(lines)))
    return DeploymentState(
        id=deployment.id,
        number=deployment.number,
        environment=environment or "",
        kind=deployment.kind,
        status=deployment.status,
        version=deployment.version,
        waiting_reason=reasons.get(deployment.id),
        message=deployment.message,
        lines=[
            DeploymentLogLine(ts=datetime.fromisoformat(line["ts"]), text=str(line["text"]))
            for line in lines[start:]
        ],
        next_line=len(lines),
        rolled_back_by=deployment.rolled_back_by,
    )
