"""The plugins list: the server's own, as its plugin manager loaded them at start, and each
registered worker's, as its agent reported them."""

import sqlalchemy as sa

from solvyd.server.db.models import Worker
from solvyd.server.plugins import server_plugins
from solvyd.server.schemas.plugins import PluginList, PluginProvides, PluginRead
from solvyd.server.schemas.workers import WorkerPluginRead
from solvyd.server.services.context import ServerContext
from solvyd.shared.plugin_host import PLUGIN_API_VERSION


async def list_plugins(ctx: ServerContext) -> PluginList:
    listed = [
        PluginRead(
            name=info.name,
            version=info.version,
            provides=PluginProvides.model_validate(info.provides),
            builtin=info.builtin,
            loaded_in="server",
            worker=None,
            status=info.status,
            error=info.error,
        )
        for info in server_plugins().plugins()
    ]
    async with ctx.db.transaction() as session:
        workers = (
            await session.execute(sa.select(Worker.name, Worker.plugins).order_by(Worker.name))
        ).all()
    for worker_name, reported in workers:
        for item in reported or []:
            plugin = WorkerPluginRead.model_validate(item)
            listed.append(
                PluginRead(
                    name=plugin.name,
                    version=plugin.version,
                    provides=PluginProvides(executors=plugin.provides.executors),
                    builtin=plugin.builtin,
                    loaded_in="agent",
                    worker=worker_name,
                    status=plugin.status,
                    error=plugin.error,
                )
            )
    return PluginList(api_version=PLUGIN_API_VERSION, plugins=listed)
