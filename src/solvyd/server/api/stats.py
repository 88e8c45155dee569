from typing import Annotated

from fastapi import APIRouter, Query

from solvyd.server.api.deps import AsViewer, Ctx
from solvyd.server.schemas.stats import Stats
from solvyd.server.services import stats

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get("", operation_id="get_stats")
async def get_stats(
    ctx: Ctx,
    _: AsViewer,
    days: Annotated[
        int, Query(ge=1, le=stats.MAX_DAYS, description="the window: today and the days before")
    ] = 7,
) -> Stats:
    """Builds and workers now; per job and per day, how the builds queued in the window ended;
    how long they waited in the queue."""
    return await stats.get_stats(ctx, days)
