"""The agent protocol over httpx: one method per verb (see solvyd.protocol.messages)."""

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from solvyd.protocol import (
    FOLDED_REPORTS_VERSION,
    AnyReport,
    BuildReportAck,
    BuildReports,
    BuildStatusUpdate,
    CancelState,
    ClaimRequest,
    DeploymentOutcome,
    DeploymentRequest,
    DeploymentState,
    GraphReport,
    Heartbeat,
    HeartbeatReply,
    JobSpec,
    LogBatch,
    LogReport,
    SecretsReply,
    SecretsRequest,
    StepGraph,
    StepReport,
    StepStatusUpdate,
    WorkerRegistered,
    WorkerRegistration,
)
from solvyd.shared.backoff import backoff_delays

log = structlog.get_logger(__name__)
T = TypeVar("T")

API_PREFIX = "/api/v1"
WORKER_TOKEN_HEADER = "X-Solvyd-Worker-Token"  # noqa: S105 - a header's name


class ServerUnavailable(Exception):
    """The server could not be reached or failed (5xx): worth retrying."""


class Rejected(Exception):
    """The server understood and refused (4xx): retrying the same request will not help."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


class ServerClient:
    def __init__(self, server_url: str, registration_token: str, *, timeout: float = 10.0) -> None:
        self._registration_token = registration_token
        self._worker_token: str | None = None
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=server_url.rstrip("/") + API_PREFIX,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )
        self.worker_id: uuid.UUID | None = None
        # Whether the server takes several reports in one request (it says at registration).
        self.server_folds_reports = False

    async def aclose(self) -> None:
        await self._http.aclose()

    def credentials(self) -> list[str]:
        """The tokens it holds, to mask out of anything the agent logs."""
        return [token for token in (self._registration_token, self._worker_token) if token]

    async def _request(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        bearer = token or self._worker_token
        try:
            response = await self._http.request(
                method,
                path,
                content=body.model_dump_json() if body is not None else None,
                headers={
                    "Authorization": f"Bearer {bearer}",
                    "Content-Type": "application/json",
                    **(headers or {}),
                },
                params=params,
                timeout=timeout if timeout is not None else self._timeout,
            )
        except httpx.TransportError as exc:
            raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise ServerUnavailable(f"{response.status_code}: {_error_message(response)}")
        if response.status_code >= 400:
            raise Rejected(response.status_code, _error_message(response))
        return response

    def _worker_path(self, suffix: str) -> str:
        if self.worker_id is None:
            raise RuntimeError("register first")
        return f"/workers/{self.worker_id}{suffix}"

    async def register(
        self, registration: WorkerRegistration, worker_token: str | None = None
    ) -> WorkerRegistered:
        """Register; `worker_token`, the token of an earlier run under the same name, lets the
        server hand that name over to us (without it a taken name is refused, 409)."""
        extra = {WORKER_TOKEN_HEADER: worker_token} if worker_token else None
        response = await self._request(
            "POST",
            "/workers/register",
            registration,
            token=self._registration_token,
            headers=extra,
        )
        registered = WorkerRegistered.model_validate_json(response.content)
        self.worker_id = registered.id
        self.server_folds_reports = registered.protocol_version >= FOLDED_REPORTS_VERSION
        self._worker_token = registered.token
        return registered

    async def heartbeat(self, heartbeat: Heartbeat) -> HeartbeatReply:
        response = await self._request("POST", self._worker_path("/heartbeat"), heartbeat)
        return HeartbeatReply.model_validate_json(response.content)

    async def claim(self, wait: float) -> JobSpec | None:
        response = await self._request(
            "POST",
            self._worker_path("/claim"),
            ClaimRequest(wait=wait),
            timeout=wait + self._timeout,
        )
        if response.status_code == 204:
            return None
        return JobSpec.model_validate_json(response.content)

    async def update_build(self, build_id: uuid.UUID, update: BuildStatusUpdate) -> None:
        await self._request("PUT", f"/builds/{build_id}/status", update)

    async def send_reports(
        self, build_id: uuid.UUID, reports: BuildReports
    ) -> BuildReportAck | None:
        """Several reports in one request, applied in order, all or none (`Rejected`). The
        server's acknowledgement; None if it cannot be read (the reports were taken all the
        same: sending them again would not make the answer readable)."""
        response = await self._request("POST", f"/builds/{build_id}/reports", reports)
        try:
            return BuildReportAck.model_validate_json(response.content)
        except ValidationError:
            log.warning("unreadable answer to build reports", build_id=str(build_id))
            return None

    async def send_report_alone(self, build_id: uuid.UUID, report: AnyReport) -> None:
        """A report on its own endpoint, as a server older than folded reports takes it."""
        if isinstance(report, LogReport):
            await self.send_logs(build_id, report.batch)
        elif isinstance(report, StepReport):
            await self.update_step(build_id, report.step, report.update)
        elif isinstance(report, GraphReport):
            await self.report_graph(build_id, report.graph)
        else:
            await self.update_build(build_id, report.update)

    async def update_step(
        self, build_id: uuid.UUID, step_name: str, update: StepStatusUpdate
    ) -> None:
        # Matrix step names hold spaces, parentheses and values of any kind.
        name = quote(step_name, safe="")
        await self._request("PUT", f"/builds/{build_id}/steps/{quote(name, safe='')}", update)

    async def report_graph(self, build_id: uuid.UUID, graph: StepGraph) -> None:
        await self._request("PUT", f"/builds/{build_id}/graph", graph)

    async def send_logs(self, build_id: uuid.UUID, batch: LogBatch) -> None:
        await self._request("POST", f"/builds/{build_id}/logs", batch)

    async def upload_artifact(
        self, build_id: uuid.UUID, name: str, path: Path, size: int
    ) -> dict[str, Any]:
        """Stream the file at `path` as the build's artifact `name` (see `upload_chunks`)."""
        return await self.upload_chunks(build_id, name, _file_chunks(path), size)

    async def upload_chunks(
        self, build_id: uuid.UUID, name: str, chunks: AsyncIterator[bytes], size: int
    ) -> dict[str, Any]:
        """Stream `chunks` (`size` bytes in all) as the build's artifact `name`; answers the
        server's record of it (`name`, `size_bytes`, `sha256`, ...) plus `local_sha256`, the
        hash of what was sent. Nothing is held whole in memory. What reading the chunks
        raises is raised as it is."""
        bearer = self._worker_token
        digest = hashlib.sha256()

        async def hashed() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                digest.update(chunk)
                yield chunk

        try:
            response = await self._http.put(
                f"/builds/{build_id}/artifacts/{quote(name, safe='/')}",
                content=hashed(),
                headers={
                    "Authorization": f"Bearer {bearer}",
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(size),
                },
                timeout=httpx.Timeout(self._timeout, write=max(self._timeout, 60.0)),
            )
        except httpx.TransportError as exc:
            raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise ServerUnavailable(f"{response.status_code}: {_error_message(response)}")
        if response.status_code >= 400:
            raise Rejected(response.status_code, _error_message(response))
        record = dict(response.json())
        record["local_sha256"] = digest.hexdigest()
        return record

    async def fetch_secrets(self, build_id: uuid.UUID, request: SecretsRequest) -> SecretsReply:
        """The values of the secrets a build's steps name. Never log the answer."""
        response = await self._request("POST", f"/builds/{build_id}/secrets", request)
        return SecretsReply.model_validate_json(response.content)

    async def wait_for_cancel(self, build_id: uuid.UUID, wait: float) -> bool:
        response = await self._request(
            "GET",
            f"/builds/{build_id}/cancel-wait",
            params={"wait": wait},
            timeout=wait + self._timeout,
        )
        return CancelState.model_validate_json(response.content).cancelled

    async def register_deployment(
        self, build_id: uuid.UUID, request: DeploymentRequest
    ) -> DeploymentState:
        response = await self._request("POST", f"/builds/{build_id}/deployments", request)
        return DeploymentState.model_validate_json(response.content)

    async def wait_for_deployment(
        self, deployment_id: uuid.UUID, *, status: str | None, after_line: int, wait: float
    ) -> DeploymentState:
        params: dict[str, Any] = {"after_line": after_line, "wait": wait}
        if status is not None:
            params["status"] = status
        response = await self._request(
            "GET",
            f"/deployments/{deployment_id}/state",
            params=params,
            timeout=wait + self._timeout,
        )
        return DeploymentState.model_validate_json(response.content)

    async def report_deployment(
        self, deployment_id: uuid.UUID, outcome: DeploymentOutcome
    ) -> DeploymentState:
        response = await self._request("PUT", f"/deployments/{deployment_id}/outcome", outcome)
        return DeploymentState.model_validate_json(response.content)

    async def deployment_step_stopped(self, deployment_id: uuid.UUID) -> DeploymentState:
        response = await self._request("POST", f"/deployments/{deployment_id}/step-stopped")
        return DeploymentState.model_validate_json(response.content)


UPLOAD_CHUNK_BYTES = 256 * 1024


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, UPLOAD_CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


async def with_retries(
    call: Callable[[], Awaitable[T]], what: str, *, give_up_after: float | None = None
) -> T:
    """Run `call` until the server takes it; `Rejected` and a passed deadline are raised."""
    deadline = None if give_up_after is None else time.monotonic() + give_up_after
    for delay in backoff_delays(base=0.2, cap=5.0):
        try:
            return await call()
        except ServerUnavailable as exc:
            if deadline is not None and time.monotonic() + delay > deadline:
                raise
            log.warning("server unavailable, will retry", what=what, error=str(exc), delay=delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
