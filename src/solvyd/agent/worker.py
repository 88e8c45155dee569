"""The agent's main loop: register, then heartbeat and claim until told to stop.

Stopping has two speeds, like Buildkite's agent: a graceful stop (first SIGTERM/SIGINT) claims
nothing new and lets running builds finish for `stop_grace_seconds`, then cancels them; a second
signal cancels them at once. Either way each build's final report is sent before exit.

The heartbeat and claim loops (and each build's cancel watcher) are supervised
(`agent/supervision.py`): one that dies of an unexpected exception stops the agent at once,
like a second signal, with one log line naming it; `run` then raises `LoopDied`, and the
command exits non-zero.
"""

import asyncio
import contextlib
import platform
import signal
import socket
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog

from solvyd import __version__
from solvyd.agent.build_run import BuildHandle, run_build
from solvyd.agent.client import Rejected, ServerClient, ServerUnavailable, with_retries
from solvyd.agent.deploy_gate import DeployGate
from solvyd.agent.identity import WorkerTokenStore
from solvyd.agent.metrics import AgentMetrics
from solvyd.agent.plugins import plugin_reports
from solvyd.agent.spool import agent_spool_dir, remove_stale_spools
from solvyd.agent.supervision import LoopDied, supervised
from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.protocol import (
    BuildStatus,
    BuildStatusUpdate,
    Capabilities,
    Heartbeat,
    WorkerRegistration,
)
from solvyd.shared.backoff import backoff_delays

log = structlog.get_logger(__name__)

CLAIM_WAIT_SECONDS = 30.0


@dataclass
class AgentConfig:
    server_url: str
    token: str
    name: str = field(default_factory=socket.gethostname)
    labels: list[str] = field(default_factory=list)
    concurrency: int = 1
    stop_grace_seconds: float = 30.0
    # Where builds' reports spill to disk while the server is unreachable (in a directory of
    # this agent's name); None keeps them in memory only, dropping log lines past its bound.
    spool_root: Path | None = None
    # Where the worker token is kept between runs (0600), so a restart can register under
    # the same name again; None keeps it in memory, and a restart needs the name freed.
    state_dir: Path | None = None


def _local_ip() -> str:
    with contextlib.suppress(OSError):
        return socket.gethostbyname(socket.gethostname())
    return ""


class Agent:
    def __init__(self, config: AgentConfig, executor: Executor) -> None:
        self.config = config
        self.executor = executor
        self.client = ServerClient(config.server_url, config.token)
        self.builds: dict[str, BuildHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # The task running each build in `builds`, by build id.
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(config.concurrency)
        self._stopping = asyncio.Event()
        self._heartbeat_interval = 10.0
        self._spool_dir: Path | None = None
        self.metrics = AgentMetrics(executor.name)
        # The first supervised loop that died, if one did: the agent is stopping because of it.
        self.died: LoopDied | None = None

    def request_stop(self) -> None:
        """First call: graceful. Second call: cancel running builds now."""
        if self._stopping.is_set():
            log.warning("stopping now: cancelling running builds", builds=len(self.builds))
            self._cancel_all()
        else:
            log.info(
                "stopping: no new builds; running builds may finish",
                builds=len(self.builds),
                grace_seconds=self.config.stop_grace_seconds,
            )
            self._stopping.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

    def _cancel_all(self) -> None:
        for handle in self.builds.values():
            handle.stop(by_agent=True)

    def loop_died(self, died: LoopDied) -> None:
        """A supervised loop died: stop now, cancelling running builds (they end `error`,
        "the agent stopped", and are reported as on any stop)."""
        if self.died is None:
            self.died = died
            log.error(
                "stopping the agent: a loop died",
                loop=died.loop,
                error=died.describe(self.client.credentials()),
                builds=len(self.builds),
            )
        self._stopping.set()
        self._cancel_all()

    def _start_loop(self, name: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(supervised(name, work), name=name)
        task.add_done_callback(self._loop_ended)
        return task

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, LoopDied):
            self.loop_died(error)

    async def run(self) -> None:
        """Run until stopped; raises `LoopDied` (after the usual stop) if a loop died."""
        try:
            if self.config.spool_root is not None:
                self._spool_dir = agent_spool_dir(self.config.spool_root, self.config.name)
                remove_stale_spools(self._spool_dir)
            await self._register()
            await self._sweep_leftovers()
            heartbeat = self._start_loop("heartbeat", self._heartbeat_loop())
            claimer = self._start_loop("claim", self._claim_loop())
            await self._stopping.wait()
            claimer.cancel()
            with contextlib.suppress(asyncio.CancelledError, LoopDied):
                await claimer
            if self.died is not None:
                self._cancel_all()  # a build the claim loop started meanwhile
            await self._drain()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, LoopDied):
                await heartbeat
        finally:
            await self.client.aclose()
            await self.executor.aclose()
        if self.died is not None:
            log.info("agent stopped", loop_died=self.died.loop)
            raise self.died
        log.info("agent stopped")

    async def _register(self) -> None:
        labels = sorted({*self.config.labels, self.executor.name})
        registration = WorkerRegistration(
            name=self.config.name,
            hostname=socket.gethostname(),
            ip=_local_ip(),
            capabilities=Capabilities(
                labels=labels,
                executors=[self.executor.name],
                concurrency=self.config.concurrency,
                runs_steps_without_image=self.executor.runs_steps_without_image,
                plugins=plugin_reports(),
            ),
            version=f"{__version__} ({platform.python_implementation()})",
        )
        store = (
            WorkerTokenStore(self.config.state_dir, self.config.name)
            if self.config.state_dir is not None
            else None
        )
        previous = store.load() if store is not None else None
        registered = await with_retries(
            lambda: self.client.register(registration, previous), "register"
        )
        if store is not None:
            store.save(registered.token)
        self._heartbeat_interval = registered.heartbeat_interval_seconds
        log.info(
            "registered",
            worker_id=str(registered.id),
            name=registered.name,
            labels=labels,
            executor=self.executor.name,
            runs_steps_without_image=self.executor.runs_steps_without_image,
            concurrency=self.config.concurrency,
        )

    async def _sweep_leftovers(self) -> None:
        """Free what an earlier life of this agent left running (a crash leaves pods of
        builds nobody holds any more). A failure is logged: builds can still run."""
        try:
            removed = await self.executor.sweep_leftovers({UUID(b) for b in self.builds})
        except ExecutorError as exc:
            log.warning("cannot sweep leftovers of earlier builds", error=str(exc))
            return
        if removed:
            log.info("removed leftovers of builds this agent no longer holds", removed=removed)

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                reply = await self.client.heartbeat(
                    Heartbeat(
                        current_builds=len(self.builds),
                        build_ids=[h.build_id for h in self.builds.values()],
                    )
                )
                for build_id in reply.cancelled_builds:
                    handle = self.builds.get(str(build_id))
                    if handle is not None:
                        log.info("server says stop build", build_id=str(build_id))
                        handle.stop(by_agent=False)
            except (ServerUnavailable, Rejected) as exc:
                log.warning("heartbeat failed", error=str(exc))
            await asyncio.sleep(self._heartbeat_interval)

    async def _claim_loop(self) -> None:
        delays = backoff_delays(base=0.5, cap=10.0)
        while True:
            await self._slots.acquire()
            try:
                spec = await self.client.claim(CLAIM_WAIT_SECONDS)
            except (ServerUnavailable, Rejected) as exc:
                self._slots.release()
                delay = next(delays)
                log.warning("claim failed", error=str(exc), retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            except asyncio.CancelledError:
                self._slots.release()
                raise
            delays = backoff_delays(base=0.5, cap=10.0)
            if spec is None:
                self._slots.release()
                continue
            self._start_build(BuildHandle(spec))

    def _start_build(self, handle: BuildHandle) -> None:
        key = str(handle.build_id)
        stale = self._runs.get(key)
        if stale is not None:
            # The server took this build from us (we were silent too long) and handed a new
            # attempt back to us: stop the old run, and start the new one once it has ended.
            log.warning("a new attempt of a build this agent still runs: stopping the old run")
            self.builds[key].stop(by_agent=False)
        self.builds[key] = handle
        self.metrics.builds_running.set(len(self.builds))
        task = asyncio.create_task(
            self._run_and_release(handle, after=stale), name=f"build-{handle.build_id}"
        )
        self._runs[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_and_release(
        self, handle: BuildHandle, after: asyncio.Task[None] | None = None
    ) -> None:
        key = str(handle.build_id)
        try:
            if after is not None:
                await asyncio.wait([after])  # bounded: stopping a run is bounded
            await run_build(
                self.client,
                DeployGate(self.executor, self.client),
                handle,
                self.metrics,
                self._spool_dir,
            )
        except LoopDied as died:  # the build ended and was reported; a loop of it had died
            self.loop_died(died)
        except Exception:
            log.exception("build run failed", build_id=str(handle.build_id))
            self.metrics.build_finished(BuildStatus.ERROR)
            with contextlib.suppress(ServerUnavailable, Rejected):
                await self.client.update_build(
                    handle.build_id,
                    BuildStatusUpdate(
                        status=BuildStatus.ERROR,
                        error_message="the agent failed running the build",
                        error_kind="infrastructure",
                        attempt=handle.spec.attempt,
                    ),
                )
        finally:
            if self.builds.get(key) is handle:
                del self.builds[key]
                del self._runs[key]
            self.metrics.builds_running.set(len(self.builds))
            self._slots.release()

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=self.config.stop_grace_seconds)
        if pending:
            log.warning("grace period over: cancelling running builds", builds=len(pending))
            self._cancel_all()
            # Cancelling a step is bounded by the executor; the final report by its deadline.
            await asyncio.wait(pending)
