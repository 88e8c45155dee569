"""Badges: the result of a public job's last finished build, for anyone to see."""

import sqlalchemy as sa

from solvyd.protocol import BuildStatus
from solvyd.server.db.models import Build, Job
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound

# The badge's word for each finished status; no finished build is "unknown".
MESSAGES = {
    BuildStatus.SUCCESS: "passing",
    BuildStatus.FAILURE: "failing",
    BuildStatus.CANCELLED: "cancelled",
    BuildStatus.ERROR: "error",
}


async def badge_message(ctx: ServerContext, job_name: str, branch: str | None) -> str:
    """The badge's word for the job's last finished build (of `branch` when given).

    NotFound, with one message, both for a job that does not exist and for one whose badge is
    not public: the answer must not tell the two apart."""
    async with ctx.db.transaction() as session:
        job_id = await session.scalar(
            sa.select(Job.id).where(Job.name == job_name, Job.public_badge.is_(True))
        )
        if job_id is None:
            raise NotFound("no public badge here")
        query = (
            sa.select(Build.status)
            .where(Build.job_id == job_id, Build.status.in_(list(MESSAGES)))
            .order_by(Build.number.desc())
            .limit(1)
        )
        if branch is not None:
            query = query.where(Build.branch == branch)
        status = await session.scalar(query)
    return MESSAGES.get(BuildStatus(status), "unknown") if status else "unknown"
