from fastapi import APIRouter

from solvyd.server.api.deps import AsViewer, Ctx
from solvyd.server.schemas.plugins import PluginList
from solvyd.server.services import plugins

router = APIRouter(prefix="/plugins", tags=["plugins"])


@router.get("", operation_id="list_plugins")
async def list_plugins(ctx: Ctx, _: AsViewer) -> PluginList:
    """The server's plugins (notifiers, forges, artifact stores) and, for each registered
    worker, the plugins (executors) its agent reported; refused and failed ones with why."""
    return await plugins.list_plugins(ctx)
