"""The forge provider contract: what a code forge implements, built in or a plugin.

A forge has two sides in Solvyd. Incoming, its webhooks: `parse` turns a request's headers and
raw body into normalised events (pure; a `PayloadError` for a request that is not this forge's
webhook, answered 400), and `verify` checks the request's signature or token against a job's
webhook secret (never raises; constant-time). Outgoing, commit statuses: `status_request`
builds the one HTTP request that reports a build's state on a commit; the commit status
sender sends it after commit, retries it, and asks `already_in_state` how to read a refusal.

A provider is stateless, does no I/O, and knows nothing of the database or HTTP frameworks.
The receiver is `POST /api/v1/hooks/{name}`; a job reports statuses to it with
`forge: {"type": name, ...}`.
"""

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from solvyd.server.scm.event import ForgeEvent, header


@dataclass(frozen=True)
class StatusReport:
    """One commit status to report, in Solvyd's words."""

    # The forge's API base URL the job names; None: the provider's `default_api_url`.
    api_url: str | None
    # owner/repo (GitLab: group/.../project).
    repository: str
    sha: str
    # A build status: queued, running, success, failure, cancelled or error.
    state: str
    # The status's name on the commit, stable per job ("solvyd/<job name>").
    context: str
    # One short line.
    description: str
    # A link to the build's page; None when the server has no public URL.
    target_url: str | None


@dataclass(frozen=True)
class StatusRequest:
    """A POST of `body` as JSON to `url` with `headers` (which carry the token)."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


class ForgeProvider(abc.ABC):
    """One forge. See the module docstring for the contract."""

    # The name in /hooks/{name} and in a job's forge type.
    name: str
    # The header that names the webhook's event (kept in the delivery log).
    event_header: str
    # Headers that name a delivery, the first present wins (a redelivery keeps its id).
    delivery_headers: tuple[str, ...] = ()
    # Headers that carry the secret or a signature: never stored in the delivery log.
    secret_headers: tuple[str, ...] = ()
    # The API base URL when a job names none; None: a job must name it (self-hosted only).
    default_api_url: str | None = None

    @abc.abstractmethod
    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ForgeEvent]:
        """The events one webhook request reports; PayloadError if it is not one."""

    @abc.abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """Whether the request is signed (or carries) `secret`. Never raises."""

    @abc.abstractmethod
    def status_request(self, report: StatusReport, token: str) -> StatusRequest:
        """The request that reports `report` on its commit, authenticated with `token`."""

    def already_in_state(self, request: StatusRequest, status_code: int, body: str) -> bool:
        """Whether the forge's refusal of `request` (`status_code`, `body`: hostile text, read
        capped) says the commit already shows that state: then the report counts as sent."""
        return False

    def event_name(self, headers: Mapping[str, str]) -> str | None:
        return header(headers, self.event_header)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        for name in self.delivery_headers:
            value = header(headers, name)
            if value is not None:
                return value[:200]
        return None


class BuiltinForge(ForgeProvider):
    """A built-in forge, made of its module's functions."""

    def __init__(
        self,
        *,
        name: str,
        event_header: str,
        delivery_headers: tuple[str, ...],
        secret_headers: tuple[str, ...],
        parse: Callable[[Mapping[str, str], bytes], list[ForgeEvent]],
        verify: Callable[[Mapping[str, str], bytes, str], bool],
        status_request: Callable[[StatusReport, str], StatusRequest],
        default_api_url: str | None = None,
        already_in_state: Callable[[StatusRequest, int, str], bool] | None = None,
    ) -> None:
        self.name = name
        self.event_header = event_header
        self.delivery_headers = delivery_headers
        self.secret_headers = secret_headers
        self.default_api_url = default_api_url
        self._parse = parse
        self._verify = verify
        self._status_request = status_request
        self._already_in_state = already_in_state

    def parse(self, headers: Mapping[str, str], body: bytes) -> list[ForgeEvent]:
        return self._parse(headers, body)

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return self._verify(headers, body, secret)

    def status_request(self, report: StatusReport, token: str) -> StatusRequest:
        return self._status_request(report, token)

    def already_in_state(self, request: StatusRequest, status_code: int, body: str) -> bool:
        if self._already_in_state is None:
            return False
        return self._already_in_state(request, status_code, body)
