"""A small synchronous client of the user API, turning every failure into a CliError."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, connect_sse

from solvyd.cli.client_config import ClientConfig, load_config
from solvyd.cli.errors import CliError

API_PREFIX = "/api/v1"


class StreamInterrupted(Exception):
    """The connection of an event stream dropped; the stream can be resumed."""


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase


def _details(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        return list(response.json()["error"].get("details", []))
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        request = response.request
        raise CliError(
            f"the answer to {request.method} {request.url.path} is not JSON; "
            "is the server URL a Solvyd server?"
        ) from None


class ApiClient:
    def __init__(self, config: ClientConfig | None = None, *, timeout: float = 30.0) -> None:
        self.config = config or load_config()
        self._http = httpx.Client(
            base_url=self.config.server_url.rstrip("/") + API_PREFIX,
            headers={"Authorization": f"Bearer {self.config.token}"},
            timeout=timeout,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise CliError(
                f"the server at {self.config.server_url} did not answer in time"
            ) from None
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach the server at {self.config.server_url}: {exc}") from None
        self._raise_for(response)
        return response

    def events(
        self, path: str, *, params: dict[str, Any], last_event_id: str | None, read_timeout: float
    ) -> Iterator[ServerSentEvent]:
        """The Server-Sent Events of `path`. A dropped connection raises StreamInterrupted
        (resume with the last event's id); an error answer raises CliError."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        timeout = httpx.Timeout(read_timeout, connect=10.0)
        try:
            with connect_sse(
                self._http, "GET", path, params=params, headers=headers, timeout=timeout
            ) as source:
                if source.response.status_code >= 400:
                    source.response.read()
                    self._raise_for(source.response)
                yield from source.iter_sse()
        except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
            raise StreamInterrupted(str(exc) or type(exc).__name__) from None

    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code == 401:
            raise CliError(f"{_message(response)}; run `solvyd login` again")
        if response.status_code >= 400:
            raise CliError(_message(response), _details(response))

    @contextmanager
    def stream(self, path: str) -> Iterator[httpx.Response]:
        """A GET whose body is read as it arrives (`iter_bytes`); an error answer raises
        CliError, and so does a connection lost while reading."""
        try:
            with self._http.stream("GET", path, timeout=httpx.Timeout(60.0, connect=10.0)) as got:
                if got.status_code >= 400:
                    got.read()
                    self._raise_for(got)
                yield got
        except httpx.TransportError as exc:
            raise CliError(f"lost the connection to {self.config.server_url}: {exc}") from None

    def get(self, path: str, **kwargs: Any) -> Any:
        return _json(self.request("GET", path, **kwargs))

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        response = self.request("POST", path, json=body, **kwargs)
        return _json(response) if response.content else None

    def patch(self, path: str, body: Any) -> Any:
        return _json(self.request("PATCH", path, json=body))

    def resolve_job(self, name_or_id: str) -> dict[str, Any]:
        items = self.get("/jobs", params={"name": name_or_id})["items"]
        if items:
            return dict(items[0])
        try:
            return dict(self.get(f"/jobs/{name_or_id}"))
        except CliError:
            raise CliError(f"no job named {name_or_id!r}") from None


def login(server_url: str, username: str, password: str, token_name: str) -> dict[str, Any]:
    """Sign in with the password, make a personal API token for the CLI (all the user's
    scopes, 90 days) and end the login session again: an access token lasts minutes, so the
    token is what the CLI keeps. Answers the created token (`id`, `token`, `expires_at`...)."""
    try:
        with httpx.Client(base_url=server_url.rstrip("/") + API_PREFIX, timeout=30.0) as http:
            signed_in = http.post("/auth/login", json={"username": username, "password": password})
            _raise_for_login(signed_in)
            session = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            created = http.post("/tokens", json={"name": token_name}, headers=session)
            _raise_for_login(created)
            http.post("/auth/logout", headers=session)  # best effort: the token is made
    except httpx.TransportError as exc:
        raise CliError(f"cannot reach the server at {server_url}: {exc}") from None
    return dict(created.json())


def _raise_for_login(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise CliError(_message(response))
