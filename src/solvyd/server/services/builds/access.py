"""Which worker may write to which build."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from solvyd.server.db import queries
from solvyd.server.db.models import Build
from solvyd.server.services.errors import Conflict, Forbidden, NotFound

# The builds this transaction has locked (its session's `info`: a session is one transaction).
_LOCKED = "solvyd.locked_builds"


async def build_held_by(
    session: AsyncSession,
    build_id: uuid.UUID,
    worker_id: uuid.UUID,
    *,
    lock: bool = True,
    attempt: int | None = None,
) -> Build:
    """The build, if `worker_id` holds it; a report naming an `attempt` must be about the
    build's current one (an earlier attempt's run is stale, even on the same worker)."""
    locked: set[uuid.UUID] = session.info.setdefault(_LOCKED, set())
    if build_id in locked:
        # Locked earlier in this transaction (the reports of one folded request each check
        # the build): the session's own copy, without locking it again.
        build = await session.get(Build, build_id)
    else:
        build = await queries.get_build(session, build_id, lock=lock)
        if lock and build is not None:
            locked.add(build_id)
    if build is None:
        raise NotFound(f"build {build_id} not found")
    if build.worker_id != worker_id:
        raise Forbidden("this build is not assigned to this worker")
    if attempt is not None and attempt != build.attempt:
        raise Conflict(f"this report is about attempt {attempt}; the build is on {build.attempt}")
    return build
