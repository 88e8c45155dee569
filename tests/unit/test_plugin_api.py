"""The plugin authors' API is pinned: a change to what `solvyd.plugins` exports or to a hook's
name or parameters must be made here too, deliberately (and PLUGIN_API_VERSION raised when it
breaks plugins: a new major version for a removal or an incompatible change)."""

import inspect
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import solvyd.plugins
from solvyd.plugins import ExecutorHooks, ServerHooks

PINNED_ALL = [
    "PLUGIN_API_VERSION",
    "ArtifactNotFound",
    "ArtifactStore",
    "ArtifactStoreFactory",
    "BuildNotice",
    "ByteSource",
    "Executor",
    "ExecutorError",
    "ExecutorFactory",
    "ExecutorHooks",
    "ExecutorOptions",
    "ForgeEvent",
    "ForgeProvider",
    "JobSpec",
    "NotificationError",
    "Notifier",
    "NotifyContext",
    "PayloadError",
    "PullRequestInfo",
    "PullRequestNotice",
    "ServerHooks",
    "ServerSettings",
    "StatusReport",
    "StatusRequest",
    "StepSpec",
    "WorkspaceFile",
    "hookimpl",
]

PINNED_HOOKS = {
    "ExecutorHooks.solvyd_executors": "(self) -> dict[str, collections.abc.Callable["
    "[pathlib.Path, solvyd.pipeline.executors.options.ExecutorOptions], "
    "solvyd.pipeline.executors.base.Executor]]",
    "ServerHooks.solvyd_artifact_stores": "(self) -> dict[str, collections.abc.Callable["
    "[solvyd.server.settings.ServerSettings], solvyd.server.artifacts.base.ArtifactStore]]",
    "ServerHooks.solvyd_forges": "(self) -> list[solvyd.server.scm.provider.ForgeProvider]",
    "ServerHooks.solvyd_notifiers": "(self) -> list[solvyd.server.notify.base.Notifier]",
}


def test_the_public_names_are_pinned() -> None:
    assert solvyd.plugins.__all__ == PINNED_ALL
    for name in PINNED_ALL:
        assert getattr(solvyd.plugins, name) is not None


def test_the_api_version_is_pinned() -> None:
    assert solvyd.plugins.PLUGIN_API_VERSION == "1.1"


def test_every_hook_and_its_parameters_are_pinned() -> None:
    hooks = {
        f"{specs.__name__}.{name}": str(inspect.signature(function))
        for specs in (ExecutorHooks, ServerHooks)
        for name, function in inspect.getmembers(specs, inspect.isfunction)
        if name.startswith("solvyd_")
    }
    assert hooks == PINNED_HOOKS


def _modules_after(statement: str) -> set[str]:
    """The solvyd modules a fresh interpreter has loaded after running `statement`."""
    script = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return {name for name in out.split() if name.startswith("solvyd")}


def test_the_agent_loads_its_plugins_without_the_servers_code() -> None:
    loaded = _modules_after(
        "from solvyd.agent.worker import Agent\n"
        "from solvyd.agent.plugins import plugin_reports\n"
        "plugin_reports()"
    )
    assert "solvyd.pipeline.executors.plugins" in loaded
    assert not {m for m in loaded if m.startswith("solvyd.server") or m == "solvyd.plugins"}


def test_the_server_loads_its_plugins_without_the_agents_or_executors_code() -> None:
    loaded = _modules_after(
        "from solvyd.server.app import create_app\n"
        "from solvyd.server.plugins import server_plugins\n"
        "server_plugins()"
    )
    assert "solvyd.server.plugins.manager" in loaded
    other_side = ("solvyd.agent", "solvyd.pipeline.executors")
    assert not {m for m in loaded if m == "solvyd.plugins" or m.startswith(other_side)}


class _PluginApi10Executor(solvyd.plugins.Executor):
    """An executor written for plugin API 1.0: its workspace is a directory it names with
    `workspace()`, and it knows nothing of the verbs 1.1 added."""

    name = "api10"

    def __init__(self, root: Path) -> None:
        self.root = root

    def workspace(self, job: solvyd.plugins.JobSpec) -> str:
        return str(self.root / str(job.build_id))

    async def check_available(self) -> str | None:
        return None

    async def setup_job(self, job: solvyd.plugins.JobSpec) -> None:
        Path(self.workspace(job)).mkdir(parents=True)

    async def start_step(self, job: solvyd.plugins.JobSpec, step: solvyd.plugins.StepSpec) -> None:
        return None

    async def stream_output(
        self, job: solvyd.plugins.JobSpec, step: solvyd.plugins.StepSpec
    ) -> AsyncIterator[str]:
        for line in ():
            yield line

    async def wait_step(self, job: solvyd.plugins.JobSpec, step: solvyd.plugins.StepSpec) -> int:
        return 0

    async def destroy_step(
        self, job: solvyd.plugins.JobSpec, step: solvyd.plugins.StepSpec
    ) -> None:
        return None

    async def teardown_job(self, job: solvyd.plugins.JobSpec) -> None:
        return None


async def test_an_executor_of_plugin_api_1_0_serves_its_workspace_for_artifacts(
    tmp_path: Path,
) -> None:
    executor = _PluginApi10Executor(tmp_path)
    job = solvyd.plugins.JobSpec(
        build_id=uuid.uuid4(), build_number=1, job_id=uuid.uuid4(), job_name="j", steps=[]
    )
    await executor.setup_job(job)
    (Path(executor.workspace(job)) / "dist").mkdir()
    (Path(executor.workspace(job)) / "dist" / "app.bin").write_bytes(b"\x00binary")
    assert await executor.list_workspace(job) == [solvyd.plugins.WorkspaceFile("dist/app.bin", 7)]
    read = b"".join([chunk async for chunk in executor.read_workspace_file(job, "dist/app.bin")])
    assert read == b"\x00binary"
