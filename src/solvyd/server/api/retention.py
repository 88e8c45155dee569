import uuid

from fastapi import APIRouter

from solvyd.server.api.deps import AsAdmin, AsViewer, Ctx
from solvyd.server.schemas.retention import RetentionPolicy, RetentionPreview
from solvyd.server.services.builds import retention
from solvyd.shared.clock import utcnow

router = APIRouter(prefix="/retention", tags=["retention"])


@router.get("", operation_id="get_retention_policy")
async def get_retention_policy(ctx: Ctx, _: AsViewer) -> RetentionPolicy:
    """The server's build retention settings (a job's own `retention` replaces each field it
    sets)."""
    return retention.server_policy(ctx)


@router.get("/preview", operation_id="preview_retention")
async def preview_retention(
    ctx: Ctx, _: AsAdmin, job_id: uuid.UUID | None = None
) -> RetentionPreview:
    """The dry run: how many finished builds (and their artifacts and archived logs) a
    retention run would remove now, of every job or of `job_id`, with the limits applied.
    Removes nothing. Admins only: it counts the whole backlog, a scan of every old build."""
    return await retention.preview_answer(ctx, utcnow(), job_id)
