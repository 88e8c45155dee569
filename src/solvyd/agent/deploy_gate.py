"""Deploy steps: an Executor that wraps the agent's real one and holds a step with `deploy`
until the server lets it deploy (docs/deployments.md).

For such a step it registers the deployment with the server, then waits, saying in the
step's log why (its approval, or another deployment to the same environment). Then:

- a script deploy (no `kubernetes`): the step's commands run through the wrapped executor,
  and the agent reports whether they succeeded;
- a `kubernetes` deploy: the server rolls the image out; the step shows its progress lines
  and ends as the rollout did (and, after `rollback: auto`, follows the rollback).

A deploy step destroyed before its deployment ended (its timeout, a cancel with
`allow_failure`) tells the server so (`step-stopped`): a waiting deployment is cancelled.

Every other step goes straight to the wrapped executor: the runtime knows nothing of this.
"""

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from solvyd.agent.client import Rejected, ServerClient, with_retries
from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.executors.wrapping import WrappingExecutor
from solvyd.protocol import DeploymentOutcome, DeploymentRequest, DeploymentState, JobSpec, StepSpec
from solvyd.protocol.messages import FINISHED_DEPLOYMENT_STATUSES, DeploySpec

T = TypeVar("T")
# Each long poll of a deployment's state.
WAIT_SECONDS = 30.0


@dataclass
class _DeployRun:
    """One deploy step: the task that drives it and the lines it says."""

    lines: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[int] | None = None
    streamed: bool = False
    # Once the server registered it: what to end when the step stops early.
    deployment_id: uuid.UUID | None = None


class DeployGate(WrappingExecutor):
    """Everything but deploy steps goes to the wrapped executor."""

    def __init__(self, inner: Executor, client: ServerClient) -> None:
        super().__init__(inner)
        self._client = client
        self._runs: dict[tuple[uuid.UUID, str], _DeployRun] = {}

    async def start_step(self, job: JobSpec, step: StepSpec) -> None:
        if step.deploy is None:
            await self.inner.start_step(job, step)
            return
        key = (job.build_id, step.name)
        if key in self._runs:
            raise ExecutorError(f"step '{step.name}' was already started")
        run = self._runs[key] = _DeployRun()
        run.task = asyncio.create_task(self._deploy(job, step, step.deploy, run))

    def stream_output(self, job: JobSpec, step: StepSpec) -> AsyncIterator[str]:
        run = self._runs.get((job.build_id, step.name))
        if step.deploy is None or run is None:
            return self.inner.stream_output(job, step)
        return self._lines(run)

    async def wait_step(self, job: JobSpec, step: StepSpec) -> int:
        run = self._runs.get((job.build_id, step.name))
        if step.deploy is None or run is None:
            return await self.inner.wait_step(job, step)
        assert run.task is not None  # noqa: S101 - set by start_step
        return await asyncio.shield(run.task)

    async def destroy_step(self, job: JobSpec, step: StepSpec) -> None:
        run = self._runs.pop((job.build_id, step.name), None)
        if run is not None and run.task is not None and not run.task.done():
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ExecutorError):
                await run.task
            if run.deployment_id is not None:
                await self._step_stopped(run.deployment_id)
        if run is not None:
            run.lines.put_nowait(None)
        # Safe if the step's commands never started (the contract says so).
        await self.inner.destroy_step(job, step)

    async def _step_stopped(self, deployment_id: uuid.UUID) -> None:
        """Tell the server the step stopped before its deployment ended (a step timeout, or
        a cancel the build goes on from): else it would wait for approval, or hold its
        environment, until the build ends. Once, and bounded: destroying a step must be
        quick, and the build's end settles what this could not."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.deployment_step_stopped(deployment_id), 10)

    async def _lines(self, run: _DeployRun) -> AsyncIterator[str]:
        while (line := await run.lines.get()) is not None:
            yield line

    # -- a deploy step ----------------------------------------------------------------------

    async def _deploy(
        self, job: JobSpec, step: StepSpec, deploy: DeploySpec, run: _DeployRun
    ) -> int:
        say = run.lines.put_nowait
        try:
            try:
                state = await self._server(
                    lambda: self._client.register_deployment(
                        job.build_id,
                        DeploymentRequest(step=step.name, deploy=deploy, attempt=job.attempt),
                    ),
                    "register a deployment",
                )
            except Rejected as refused:
                say(f"the server refused the deployment: {refused.message}")
                return 1
            run.deployment_id = state.id
            say(
                f"deployment #{state.number} of {state.version} to {state.environment} "
                f"(id {state.id})"
            )
            state = await self._follow(state, say, until_running=True)
            if state.status == "running" and deploy.kubernetes is None:
                return await self._run_script(job, step, state, say)
            # Its lines were said already: follow on from there.
            state = await self._follow(
                state.model_copy(update={"lines": []}), say, until_running=False
            )
            return await self._ended(state, say)
        except Rejected as refused:
            # The build was taken from this agent, or ended: the step cannot go on.
            raise ExecutorError(f"the server refused the deploy step: {refused.message}") from None
        finally:
            say(None)

    async def _follow(
        self, state: DeploymentState, say: Callable[[str | None], None], *, until_running: bool
    ) -> DeploymentState:
        """Relay the deployment's waiting reasons and progress lines until it runs (or, with
        `until_running` False, until it ends)."""
        said_reason: str | None = None
        next_line = 0
        while True:
            for line in state.lines:
                say(line.text)
            next_line = state.next_line
            if state.waiting_reason and state.waiting_reason != said_reason:
                said_reason = state.waiting_reason
                if state.status == "awaiting_approval":
                    say(f"waiting for approval (approve: solvyd deploy approve {state.id})")
                else:
                    say(state.waiting_reason)
            if state.status in FINISHED_DEPLOYMENT_STATUSES:
                return state
            if until_running and state.status == "running":
                return state
            state = await self._server(
                functools.partial(
                    self._client.wait_for_deployment,
                    state.id,
                    status=state.status,
                    after_line=next_line,
                    wait=WAIT_SECONDS,
                ),
                "wait for a deployment",
            )

    async def _run_script(
        self,
        job: JobSpec,
        step: StepSpec,
        state: DeploymentState,
        say: Callable[[str | None], None],
    ) -> int:
        say(f"deploying {state.version} to {state.environment}")
        script = step.model_copy(
            update={
                "env": {
                    **step.env,
                    "SOLVYD_DEPLOY_ENVIRONMENT": state.environment,
                    "SOLVYD_DEPLOY_VERSION": state.version,
                    "SOLVYD_DEPLOYMENT_ID": str(state.id),
                }
            }
        )
        await self.inner.start_step(job, script)
        pump = asyncio.create_task(self._relay(job, script, say))
        try:
            code = await self.inner.wait_step(job, script)
        finally:
            await self.inner.destroy_step(job, script)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pump, 30)
        outcome = DeploymentOutcome(
            status="succeeded" if code == 0 else "failed",
            message=None if code == 0 else f"the deploy script ended with exit code {code}",
            attempt=job.attempt,
        )
        try:
            await self._server(
                lambda: self._client.report_deployment(state.id, outcome), "report a deployment"
            )
        except Rejected as refused:
            say(f"the server did not take the deployment's outcome: {refused.message}")
            return code or 1
        say(f"deployment #{state.number} to {state.environment} {outcome.status}")
        return code

    async def _relay(self, job: JobSpec, step: StepSpec, say: Callable[[str | None], None]) -> None:
        async for line in self.inner.stream_output(job, step):
            say(line)

    async def _ended(self, state: DeploymentState, say: Callable[[str | None], None]) -> int:
        if state.status == "succeeded":
            say(f"deployed {state.version} to {state.environment}")
            return 0
        say(f"deployment #{state.number} to {state.environment} {state.status}: {state.message}")
        if state.rolled_back_by is not None:
            rollback_id = state.rolled_back_by
            rollback = await self._server(
                lambda: self._client.wait_for_deployment(
                    rollback_id, status=None, after_line=0, wait=0
                ),
                "follow a rollback",
            )
            say(f"following the rollback, deployment #{rollback.number}")
            rollback = await self._follow(rollback, say, until_running=False)
            say(f"rollback to {rollback.version}: {rollback.status}")
        return 1

    async def _server(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        return await with_retries(call, what)
