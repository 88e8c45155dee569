"""An executor that adds to another one: every verb goes to the wrapped executor unless a
subclass overrides it, so a verb added to the contract reaches the backend without each
wrapper having to learn it (the agent's deploy gate, `solvyd exec`'s source copy)."""

from collections.abc import AsyncIterator, Collection
from uuid import UUID

from solvyd.pipeline.executors.base import Executor, WorkspaceFile
from solvyd.protocol.messages import JobSpec, StepSpec


class WrappingExecutor(Executor):
    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def runs_steps_without_image(self) -> bool:
        return self.inner.runs_steps_without_image

    async def check_available(self) -> str | None:
        return await self.inner.check_available()

    async def setup_job(self, job: JobSpec) -> None:
        await self.inner.setup_job(job)

    def workspace(self, job: JobSpec) -> str:
        return self.inner.workspace(job)

    async def start_step(self, job: JobSpec, step: StepSpec) -> None:
        await self.inner.start_step(job, step)

    def stream_output(self, job: JobSpec, step: StepSpec) -> AsyncIterator[str]:
        return self.inner.stream_output(job, step)

    async def wait_step(self, job: JobSpec, step: StepSpec) -> int:
        return await self.inner.wait_step(job, step)

    async def destroy_step(self, job: JobSpec, step: StepSpec) -> None:
        await self.inner.destroy_step(job, step)

    async def teardown_job(self, job: JobSpec) -> None:
        await self.inner.teardown_job(job)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def sweep_leftovers(self, held_builds: Collection[UUID]) -> int:
        return await self.inner.sweep_leftovers(held_builds)

    async def list_workspace(self, job: JobSpec) -> list[WorkspaceFile]:
        return await self.inner.list_workspace(job)

    def read_workspace_file(self, job: JobSpec, path: str) -> AsyncIterator[bytes]:
        return self.inner.read_workspace_file(job, path)
