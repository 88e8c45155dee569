"""The secrets a job's notification rules name must exist when the rules are changed.

Checked on a change of an existing job (PATCH), against the job's own and the global secrets:
a typo is a 422 at once rather than a failed delivery later. A new job (POST) cannot have
secrets of its own yet, so its rules are not checked for them; a secret deleted later makes
the deliveries that need it fail, saying which secret is missing."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db.models import Job, Secret
from solvyd.server.notify.registry import notifier_for
from solvyd.server.services.errors import InvalidInput


async def check_rule_secrets(session: AsyncSession, job: Job) -> None:
    wanted: list[tuple[int, str, str]] = []  # (rule index, key, secret name)
    for index, rule in enumerate(job.notifications or []):
        notifier = notifier_for(str(rule.get("type")))
        if notifier is None:
            continue
        for name in notifier.secret_names(rule):
            key = next((k for k, v in rule.items() if v == name), "rule")
            wanted.append((index, key, name))
    if not wanted:
        return
    names = sorted({name for _, _, name in wanted})
    existing = set(
        await session.scalars(
            sa.select(Secret.name).where(
                sa.or_(Secret.job_id == job.id, Secret.job_id.is_(None)), Secret.name.in_(names)
            )
        )
    )
    problems = [
        f"rule {index}, {key}: no secret named {name!r} exists for the job (set it first)"
        for index, key, name in wanted
        if name not in existing
    ]
    if problems:
        raise InvalidInput(
            "notifications: " + "; ".join(problems),
            details=[{"field": "notifications", "message": problem} for problem in problems],
        )
