"""Badges: the result of a public job's last finished build, for anyone to see.

A badge tells how a branch stands, so it counts only builds of that branch's own commits:
not a pull request's (whose source branch may even share the name, in a fork) nor a tag's.
Without `?branch=` the branch is the job's default one, as on a forge's own badge."""

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from solvyd.protocol import BuildStatus
from solvyd.server.db.models import Build, Job
from solvyd.server.services.builds.origin import PULL_REQUEST, TAG
from solvyd.server.services.context import ServerContext
from solvyd.server.services.errors import NotFound

# The badge's word for each finished status; no finished build is "unknown".
MESSAGES = {
    BuildStatus.SUCCESS: "passing",
    BuildStatus.FAILURE: "failing",
    BuildStatus.CANCELLED: "cancelled",
    BuildStatus.ERROR: "error",
}


@dataclass(frozen=True)
class Badge:
    message: str
    # The branch it tells of; None for a job without a default branch (then: all branches).
    branch: str | None


def shown_on_badge(job_id: uuid.UUID, branch: str | None) -> sa.ColumnElement[bool]:
    """The builds a badge of the job's `branch` (None: of every branch) chooses from; it shows
    the newest by number. Retention keeps that one (retention.py)."""
    conditions = [
        Build.job_id == job_id,
        Build.status.in_(list(MESSAGES)),
        # `event`, not `trigger`: a retry of a pull request's build is one too.
        Build.event.not_in((PULL_REQUEST, TAG)),
    ]
    if branch is not None:
        conditions.append(Build.branch == branch)
    return sa.and_(*conditions)


async def badge(ctx: ServerContext, job_name: str, branch: str | None) -> Badge:
    """The badge of the job's last finished build of `branch` (default: the job's branch).

    NotFound, with one message, both for a job that does not exist and for one whose badge is
    not public: the answer must not tell the two apart."""
    async with ctx.db.transaction() as session:
        job = (
            await session.execute(
                sa.select(Job.id, Job.branch).where(
                    Job.name == job_name, Job.public_badge.is_(True)
                )
            )
        ).first()
        if job is None:
            raise NotFound("no public badge here")
        branch = branch or job.branch
        status = await session.scalar(
            sa.select(Build.status)
            .where(shown_on_badge(job.id, branch))
            .order_by(Build.number.desc())
            .limit(1)
        )
    message = MESSAGES.get(BuildStatus(status), "unknown") if status else "unknown"
    return Badge(message, branch)
