"""The server's side of deployments, run by every server process (background.py): start the
next deployment of each free environment, and roll out the `kubernetes` ones.

A rollout is held by one process at a time through a lease on its row (`lease_until`), which
that process renews while it works. A process that dies leaves its lease to run out; then
another one takes the rollout over and runs it again from the start (setting an image is
idempotent, and the wait picks the rollout up where it is)."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import sqlalchemy as sa
import structlog

from solvyd.protocol import KubernetesDeployTarget
from solvyd.server.db.models import Deployment
from solvyd.server.deploy.kubernetes import ClusterSettings, RolloutFailed, roll_out
from solvyd.server.events import DEPLOYMENTS, deployment_topic
from solvyd.server.services.context import ServerContext
from solvyd.server.services.deployments import queue
from solvyd.server.services.deployments.rollback import queue_auto_rollback
from solvyd.shared.clock import utcnow

log = structlog.get_logger(__name__)

# How often a runner with nothing queued or running looks anyway (a safety net: every change
# that could give it work notifies it).
IDLE_ROUND_SECONDS = 60.0


class DeploymentRunner:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.rollouts: dict[uuid.UUID, asyncio.Task[None]] = {}
        # This runner's name on the leases it holds.
        self.holder = uuid.uuid4().hex

    async def run_round(self) -> bool:
        """Start what may start and take the rollouts nobody holds; whether any deployment is
        queued or running (then rounds come every `deploy_poll_seconds`, to take over a
        rollout whose server died)."""
        async with self.ctx.db.transaction() as session:
            environments = await queue.environments_with_queued(session)
            running = await queue.any_running(session)
        for environment_id in environments:
            await queue.advance(self.ctx, environment_id)
        if not (environments or running):
            return False
        for deployment_id in await self._take_rollouts():
            task = asyncio.create_task(self._roll_out(deployment_id), name="rollout")
            self.rollouts[deployment_id] = task
            task.add_done_callback(self._forget(deployment_id))
        return True

    def _forget(self, deployment_id: uuid.UUID) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self.rollouts.pop(deployment_id, None)

        return forget

    async def stop(self) -> None:
        """Leave the rollouts in course to another process (their leases run out)."""
        for task in list(self.rollouts.values()):
            task.cancel()
        for task in list(self.rollouts.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _take_rollouts(self) -> list[uuid.UUID]:
        """Lease the running `kubernetes` deployments nobody holds."""
        now = utcnow()
        lease = timedelta(seconds=self.ctx.settings.deploy_lease_seconds)
        taken = []
        async with self.ctx.db.transaction() as session:
            query = (
                sa.select(Deployment)
                .where(
                    Deployment.status == queue.RUNNING,
                    Deployment.target.is_not(None),
                    sa.or_(Deployment.lease_until.is_(None), Deployment.lease_until < now),
                )
                .limit(20)
            )
            if self.ctx.db.dialect == "postgresql":
                query = query.with_for_update(skip_locked=True)
            for deployment in await session.scalars(query):
                if deployment.id in self.rollouts:
                    continue
                if deployment.lease_until is not None:
                    queue.add_log_line(deployment, "the server rolling this out stopped; resuming")
                deployment.lease_until = now + lease
                deployment.lease_holder = self.holder
                taken.append(deployment.id)
        return taken

    async def _roll_out(self, deployment_id: uuid.UUID) -> None:
        ctx = self.ctx
        async with ctx.db.transaction() as session:
            deployment = await session.get(Deployment, deployment_id)
            if deployment is None or deployment.target is None:
                return
            target = KubernetesDeployTarget.model_validate(deployment.target)
            started = deployment.started_at or utcnow()
            timeout = deployment.rollout_timeout_seconds
        # The rollout's time counts from its start, also for a process that took it over.
        deadline = time.monotonic() + timeout - (utcnow() - started).total_seconds()
        cluster = ClusterSettings(
            kubeconfig=ctx.settings.deploy_kubeconfig,
            in_cluster=ctx.settings.deploy_in_cluster,
            poll_seconds=ctx.settings.deploy_rollout_poll_seconds,
        )
        rollout = asyncio.current_task()
        assert rollout is not None  # noqa: S101 - run as a task by run_round
        renew = asyncio.create_task(self._renew_lease(deployment_id, rollout))
        try:
            await roll_out(
                cluster, target, deadline=deadline, progress=self._progress(deployment_id)
            )
        except RolloutFailed as exc:
            await self._finish(deployment_id, queue.FAILED, str(exc))
        except Exception as exc:
            log.error("rollout failed", deployment=str(deployment_id), exc_info=True)
            await self._finish(deployment_id, queue.FAILED, f"the rollout failed: {exc!r}")
        else:
            await self._finish(deployment_id, queue.SUCCEEDED, "rolled out")
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew

    def _progress(self, deployment_id: uuid.UUID) -> Callable[[str], Awaitable[None]]:
        async def progress(text: str) -> None:
            async with self.ctx.db.transaction() as session:
                deployment = await session.get(Deployment, deployment_id, with_for_update=True)
                if deployment is not None:
                    queue.add_log_line(deployment, text)
            self.ctx.events.notify(deployment_topic(deployment_id))

        return progress

    async def _renew_lease(self, deployment_id: uuid.UUID, rollout: asyncio.Task[None]) -> None:
        """Renew this runner's lease while it holds it. A lease another process took (this
        one stalled past it) is not taken back: this rollout stops, the holder's goes on."""
        seconds = self.ctx.settings.deploy_lease_seconds
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                async with self.ctx.db.transaction() as session:
                    result = await session.execute(
                        sa.update(Deployment)
                        .where(
                            Deployment.id == deployment_id,
                            Deployment.status == queue.RUNNING,
                            Deployment.lease_holder == self.holder,
                        )
                        .values(lease_until=utcnow() + timedelta(seconds=seconds))
                    )
            except Exception as exc:
                log.warning(
                    "renewing a rollout's lease failed", error=f"{type(exc).__name__}: {exc}"
                )
                continue
            if not getattr(result, "rowcount", 0):
                log.warning(
                    "a rollout's lease is no longer this server's", deployment=str(deployment_id)
                )
                rollout.cancel()
                return

    async def _finish(self, deployment_id: uuid.UUID, status: str, message: str) -> None:
        ctx = self.ctx
        async with ctx.db.transaction() as session:
            deployment = await session.get(Deployment, deployment_id, with_for_update=True)
            if deployment is None or deployment.status != queue.RUNNING:
                return
            if deployment.lease_holder != self.holder:
                return  # another server took the rollout over: its own end counts
            rollback = None
            auto = deployment.kind == "deploy" and deployment.rollback_policy == "auto"
            if status == queue.FAILED and auto:
                rollback = await queue_auto_rollback(session, deployment)
                if rollback is None:
                    message += "; no earlier successful deployment to roll back to"
                else:
                    message += (
                        f"; rolling back to {rollback.version} (deployment #{rollback.number})"
                    )
            queue.add_log_line(deployment, message)
            queue.finish(deployment, status, message)
            environment_id = deployment.environment_id
        ctx.events.notify(deployment_topic(deployment_id))
        ctx.events.notify(DEPLOYMENTS)
        await queue.advance(ctx, environment_id)


async def run_deployments(ctx: ServerContext) -> None:
    """The loop: a round when woken (a deployment queued, approved or ended here or, through
    PostgreSQL, in another server), every `deploy_poll_seconds` while a deployment waits or
    runs, and else only every `IDLE_ROUND_SECONDS`: a server with nothing to deploy must not
    take SQLite's write lock every two seconds for nothing (registering a deployment wakes
    the loop anyway)."""
    runner = DeploymentRunner(ctx)
    try:
        while True:
            signal = ctx.events.listen(DEPLOYMENTS)
            busy = True
            try:
                busy = await runner.run_round()
            except Exception as exc:
                log.error("deployment round failed", error=f"{type(exc).__name__}: {exc}")
            if ctx.events.closed:
                return
            poll = ctx.settings.deploy_poll_seconds
            await signal.wait(poll if busy else max(poll, IDLE_ROUND_SECONDS))
    finally:
        await runner.stop()
