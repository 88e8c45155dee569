"""GET /plugins: the server's plugins and those each worker's agent reported."""

from typing import Literal

from pydantic import BaseModel, Field

PluginStatus = Literal["loaded", "refused", "failed"]


class PluginProvides(BaseModel):
    """The names a plugin provides, by kind. A server lists notifiers, forges and artifact
    stores; an agent executors."""

    executors: list[str] = Field(default_factory=list)
    notifiers: list[str] = Field(default_factory=list)
    forges: list[str] = Field(default_factory=list)
    artifact_stores: list[str] = Field(default_factory=list)


class PluginRead(BaseModel):
    name: str
    version: str | None
    provides: PluginProvides
    builtin: bool
    loaded_in: Literal["server", "agent"]
    # The worker's name when loaded_in is "agent".
    worker: str | None
    # refused: its plugin API version differs, or it names what another plugin provides;
    # failed: it raised while loading. Neither is used; `error` says why.
    status: PluginStatus
    error: str | None


class PluginList(BaseModel):
    # The plugin API this server offers (`solvyd.plugins.PLUGIN_API_VERSION`).
    api_version: str
    plugins: list[PluginRead]
