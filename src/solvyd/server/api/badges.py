"""GET /badges/{job}.svg: a status badge to put in a README; no login."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from solvyd.server.api.deps import Ctx, Public
from solvyd.server.schemas.badges import render_badge
from solvyd.server.services import badges

router = APIRouter(prefix="/badges", tags=["badges"], dependencies=[Public])


@router.get(
    "/{job_name}.svg",
    operation_id="get_badge",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def get_badge(
    ctx: Ctx,
    job_name: str,
    branch: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
) -> Response:
    shown = await badges.badge(ctx, job_name, branch)
    title = f"build on {shown.branch}: {shown.message}" if shown.branch else None
    return Response(
        render_badge("build", shown.message, title=title),
        media_type="image/svg+xml",
        # Camo and other proxies would otherwise keep showing an old result.
        headers={"Cache-Control": "no-cache"},
    )
