"""The few Kubernetes API calls the ``kubernetes`` executor makes, over ``kubernetes_asyncio``.

The client is used for what it does well (reading a kubeconfig or the in-cluster service
account, authenticating, TLS) and its raw ``call_api``: objects go out and come back as the
API's own JSON (plain dicts), which keeps pod specs readable, and lets the log request carry
``sinceTime``, which the generated ``read_namespaced_pod_log`` lacks. ``kubernetes_asyncio`` is
imported only when a client is made.

Calls (the RBAC in deploy/kubernetes/agent-rbac.yaml is exactly these): pods create, get, list,
delete; pods/log get; pods/exec create (a websocket, ``v4.channel.k8s.io``); secrets create,
list, delete; events list.
"""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from solvyd.pipeline.executors.lines import LineSplitter

_API_SECONDS = 30.0
_LOG_SILENCE = 60.0  # seconds without a byte after which a log stream is resumed
_SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class ApiError(Exception):
    """The API server answered with an error ``Status``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class Unreachable(Exception):
    """No answer from the API server (refused, reset, timed out)."""


class KubeApi:
    """One connection (a pooled HTTP session) to one cluster, for one event loop."""

    def __init__(self, api_client: Any, ws_client: Any, namespace: str) -> None:
        self._api = api_client
        self._ws = ws_client
        self.namespace = namespace

    @classmethod
    async def connect(cls, kubeconfig: Path | None, namespace: str | None) -> "KubeApi":
        """A client from `kubeconfig`, or in-cluster config when the agent runs in a pod and
        names none, else from the default kubeconfig. Raises ``Unreachable`` when no config
        can be read (the reason in its message)."""
        import os

        from kubernetes_asyncio import client, config
        from kubernetes_asyncio.config.config_exception import ConfigException
        from kubernetes_asyncio.stream import WsApiClient

        configuration = client.Configuration()
        found_namespace: str | None = None
        try:
            if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                found_namespace = await asyncio.to_thread(_service_account_namespace)
            else:
                loader = await config.load_kube_config(
                    config_file=str(kubeconfig) if kubeconfig else None,
                    client_configuration=configuration,
                    persist_config=False,
                )
                context = loader.current_context or {}
                found_namespace = (context.get("context") or {}).get("namespace")
        except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
            where = kubeconfig or "the default kubeconfig or in-cluster config"
            raise Unreachable(f"cannot read {where}: {exc}") from exc
        return cls(
            client.ApiClient(configuration),
            WsApiClient(configuration),
            namespace or found_namespace or "default",
        )

    async def close(self) -> None:
        await self._api.close()
        await self._ws.close()

    def path(self, resource: str, name: str | None = None, sub: str | None = None) -> str:
        path = f"/api/v1/namespaces/{self.namespace}/{resource}"
        if name is not None:
            path += f"/{name}"
        if sub is not None:
            path += f"/{sub}"
        return path

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        timeout: float = _API_SECONDS,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One request; the answer's JSON. ``ApiError`` for an error status. A PATCH names its
        kind of patch as its ``content_type`` (``application/merge-patch+json``)."""
        response = await self._open(method, path, query, body, timeout, content_type=content_type)
        try:
            data = await response.read()
        finally:
            response.release()
        if response.status >= 400:
            raise _api_error(response.status, data)
        try:
            answer = json.loads(data)
        except ValueError as exc:
            raise Unreachable(f"the API server sent no JSON for {method} {path}") from exc
        return answer if isinstance(answer, dict) else {}

    async def log_lines(
        self, pod: str, container: str, since: str | None
    ) -> AsyncIterator[tuple[int, str]]:
        """(time in ns, line) of a container's log, following it (``follow=true``) until the
        API server ends the stream: the container stopped, or the connection was cut."""
        query = [("container", container), ("follow", "true"), ("timestamps", "true")]
        if since is not None:
            query.append(("sinceTime", since))
        # No total timeout: the stream lasts as long as the step. A connection silent for a
        # minute (a quiet step, or a dead network) is dropped, and the caller resumes it.
        response = await self._open(
            "GET", self.path("pods", pod, "log"), query, None, None, read_timeout=_LOG_SILENCE
        )
        try:
            if response.status >= 400:
                raise _api_error(response.status, await response.read())
            splitter = LineSplitter()
            try:
                async for chunk in response.content.iter_any():
                    for line in splitter.feed(chunk):
                        yield _stamped(line)
            except _transport_errors() as exc:
                raise Unreachable(f"the log of {pod}/{container}: {exc!r}") from exc
            # A partial last line is kept only when the stream ended cleanly; a cut one comes
            # again, whole, when the caller resumes.
            for line in splitter.flush():
                yield _stamped(line)
        finally:
            response.release()

    async def exec_stream(
        self, pod: str, container: str, command: list[str]
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Run `command` in a container (``pods/exec``); yields (channel, bytes): 1 stdout,
        2 stderr, and last 3 with the Status JSON (exit code)."""
        query = [("command", part) for part in command]
        query += [("container", container), ("stdout", "true"), ("stderr", "true")]
        try:
            connecting = await self._ws.call_api(
                self.path("pods", pod, "exec"),
                "GET",
                query_params=query,
                header_params={},
                auth_settings=["BearerToken"],
                _preload_content=False,
            )
            async with connecting as socket:
                async for message in socket:
                    data = message.data
                    if isinstance(data, str):
                        data = data.encode()
                    if isinstance(data, bytes) and data:
                        yield data[0], data[1:]
        except _transport_errors() as exc:
            raise Unreachable(f"pods/exec in {pod}: {exc}") from exc

    async def exec(self, pod: str, container: str, command: list[str]) -> tuple[int, bytes]:
        """Run `command`; its exit code and its stdout+stderr."""
        output = bytearray()
        status: dict[str, Any] | None = None
        async for channel, data in self.exec_stream(pod, container, command):
            if channel in (1, 2):
                output += data
            elif channel == 3:
                status = json.loads(data) if data else None
        return exec_exit_code(status), bytes(output)

    async def _open(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None,
        body: dict[str, Any] | None,
        timeout: float | None,
        read_timeout: float | None = None,
        content_type: str = "application/json",
    ) -> Any:
        import aiohttp

        try:
            return await self._api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=aiohttp.ClientTimeout(
                    total=timeout, sock_connect=10, sock_read=read_timeout
                ),
            )
        except _transport_errors() as exc:
            raise Unreachable(f"{method} {path}: {exc or type(exc).__name__}") from exc


def _service_account_namespace() -> str | None:
    if _SERVICE_ACCOUNT_NAMESPACE.is_file():
        return _SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    return None


def exec_exit_code(status: dict[str, Any] | None) -> int:
    """The exit code in exec's final Status: 0 for Success, the ``ExitCode`` cause's number
    for NonZeroExitCode; -1 when there is none (the exec itself failed)."""
    if status is None:
        return -1
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                break
    return -1


def format_timestamp_ns(nanos: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 with nine fraction digits (``sinceTime``)."""
    seconds, fraction = divmod(nanos, 1_000_000_000)
    whole = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{fraction:09d}Z"


def parse_timestamp_ns(stamp: str) -> int:
    """An RFC 3339 time with up to nine fraction digits as nanoseconds since the epoch,
    exactly (``datetime`` keeps only microseconds, and two lines may differ by less)."""
    match = _TIMESTAMP.fullmatch(stamp)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    whole, fraction, zone = match.groups()
    moment = datetime.fromisoformat(whole + ("+00:00" if zone in ("Z", "z") else zone))
    return int(moment.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)")


def _stamped(line: str) -> tuple[int, str]:
    stamp, _, text = line.partition(" ")
    try:
        return parse_timestamp_ns(stamp), text
    except ValueError:
        return -1, line  # no timestamp: never deduplicated


def _api_error(status: int, data: bytes) -> ApiError:
    try:
        body = json.loads(data)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or data[:200].decode("utf-8", "replace") or status)
    return ApiError(status, str(body.get("reason") or ""), message)


def _transport_errors() -> tuple[type[BaseException], ...]:
    import aiohttp

    return (aiohttp.ClientError, asyncio.TimeoutError, OSError)
