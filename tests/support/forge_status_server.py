"""A real HTTP server on loopback that implements the four forges' commit status endpoints,
for the commit status sender's tests: it checks each request's path, auth header and body the
way the forge does, answers like the forge, and records what it got.

Where the shapes come from (the forges' API documentation):
- GitHub, "Create a commit status" (docs.github.com/rest/commits/statuses#create-a-commit-status):
  POST /repos/{owner}/{repo}/statuses/{sha}, "Authorization: Bearer <token>", JSON body with
  `state` (error, failure, pending, success; required), `target_url`, `description`,
  `context`; answers 201 with the status object. A bad token: 401 {"message": "Bad
  credentials", "documentation_url": ...}.
- GitLab, "Set the pipeline status of a commit" (docs.gitlab.com/api/commits/#set-the-pipeline-
  status-of-a-commit): POST /api/v4/projects/{id or URL-encoded path}/statuses/{sha},
  "PRIVATE-TOKEN: <token>", `state` (pending, running, success, failed, canceled; required),
  `name`, `target_url`, `description`; answers 201. A bad token: 401 {"message": "401
  Unauthorized"}. A `pending` or `running` status posted again while the commit's status of
  that name already has it is refused by GitLab's state machine: 400 {"message": "Cannot
  transition status via :enqueue from :pending (Reason(s): Status cannot transition via
  \"enqueue\")"} (gitlab.com/gitlab-org/gitlab-foss/-/issues/25807, which shows the request
  and the answer; `:run from :running` for `running`). A finished status is not looked up, so
  posting it again makes a new one (201).
- Gitea, "Create a commit status" (the API's CreateStatusOption): POST
  /api/v1/repos/{owner}/{repo}/statuses/{sha}, "Authorization: token <token>", `state`
  (pending, success, error, failure, warning), `context`, `target_url`, `description`;
  answers 201.
- Bitbucket Cloud, "Create a build status for a commit" (developer.atlassian.com/cloud/
  bitbucket/rest/api-group-commit-statuses/#api-repositories-workspace-repo-slug-commit-
  commit-statuses-build-post): POST /2.0/repositories/{workspace}/{repo_slug}/commit/{commit}/
  statuses/build, "Authorization: Bearer <token>", `key`, `state` (INPROGRESS, SUCCESSFUL,
  FAILED, STOPPED), `name`, `url`, `description`; answers 201 with the status.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.loopback_server import serving_on_loopback

STATES = {
    "github": {"error", "failure", "pending", "success"},
    "gitlab": {"pending", "running", "success", "failed", "canceled"},
    "gitea": {"pending", "success", "error", "failure", "warning"},
    "bitbucket": {"INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"},
}
# The field that names the status, per forge.
NAME_FIELD = {"github": "context", "gitlab": "name", "gitea": "context", "bitbucket": "key"}
# GitLab's state machine event for each state it refuses to enter again.
GITLAB_EVENTS = {"pending": "enqueue", "running": "run"}


@dataclass
class Received:
    forge: str
    # As sent, before decoding (GitLab's project path is URL-encoded in it).
    raw_path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeForge:
    token: str
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # Answers to give before the forge's normal one: (status code, JSON body), first first.
    scripted: list[tuple[int, Any]] = field(default_factory=list)
    # When set, the first request is answered only once this is set (a slow forge).
    hold_first: asyncio.Event | None = None
    # The test's own answer to every request instead of the forge's (a broken or hostile
    # forge): called with the forge's name and the request, once it has been recorded.
    answer: Callable[[str, Request], Response] | None = None
    # GitLab: the state of each (project, sha, name) status not finished yet.
    gitlab_open: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def states(self, forge: str | None = None) -> list[str]:
        return [r.body["state"] for r in self.received if forge is None or r.forge == forge]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Until at least `count` requests arrived (bounded)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} requests arrived")
            await asyncio.sleep(0.02)
        return self.received

    def _authorized(self, forge: str, headers: dict[str, str]) -> bool:
        if forge == "gitlab":
            return headers.get("private-token") == self.token
        scheme = "token" if forge == "gitea" else "Bearer"
        return headers.get("authorization") == f"{scheme} {self.token}"

    async def _handle(self, forge: str, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"message": "Problems parsing JSON"}, status_code=400)
        headers = {key.lower(): value for key, value in request.headers.items()}
        self.received.append(
            Received(
                forge=forge,
                raw_path=request.scope["raw_path"].decode(),
                params=dict(request.path_params),
                headers=headers,
                body=body,
            )
        )
        if self.answer is not None:
            return self.answer(forge, request)
        # Decided (and GitLab's status moved) on arrival, as the forge does, even when the
        # answer is then held back.
        answer = self._forge_answer(forge, request, headers, body)
        if self.hold_first is not None and len(self.received) == 1:
            await asyncio.wait_for(self.hold_first.wait(), 30)
        return answer

    def _forge_answer(
        self, forge: str, request: Request, headers: dict[str, str], body: Any
    ) -> Response:
        if not self._authorized(forge, headers):
            if forge == "github":
                return JSONResponse(
                    {
                        "message": "Bad credentials",
                        "documentation_url": "https://docs.github.com/rest",
                    },
                    status_code=401,
                )
            return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
        if self.scripted:
            status, payload = self.scripted.pop(0)
            return JSONResponse(payload, status_code=status)
        if body.get("state") not in STATES[forge] or not body.get(NAME_FIELD[forge]):
            return JSONResponse({"message": "Validation Failed"}, status_code=422)
        refusal = self._gitlab_transition(forge, request, body)
        if refusal is not None:
            return refusal
        return JSONResponse({"id": len(self.received), **body}, status_code=201)

    def _gitlab_transition(self, forge: str, request: Request, body: Any) -> Response | None:
        """Move GitLab's status as GitLab does; the refusal of a state it already has."""
        if forge != "gitlab":
            return None
        params = request.path_params
        key = (params["project"], params["sha"], str(body.get("name")))
        state = body.get("state")
        current = self.gitlab_open.get(key)
        if state in GITLAB_EVENTS and current == state:
            event = GITLAB_EVENTS[state]
            message = (
                f"Cannot transition status via :{event} from :{current} "
                f'(Reason(s): Status cannot transition via "{event}")'
            )
            return JSONResponse({"message": message}, status_code=400)
        if state in GITLAB_EVENTS:
            self.gitlab_open[key] = state
        else:
            self.gitlab_open.pop(key, None)
        return None

    def app(self) -> Starlette:
        def route(path: str, forge: str) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self._handle(forge, request)

            return Route(path, endpoint, methods=["POST"])

        return Starlette(
            routes=[
                route("/repos/{owner}/{repo}/statuses/{sha}", "github"),
                route("/api/v4/projects/{project:path}/statuses/{sha}", "gitlab"),
                route("/api/v1/repos/{owner}/{repo}/statuses/{sha}", "gitea"),
                route(
                    "/2.0/repositories/{workspace}/{repo}/commit/{sha}/statuses/build",
                    "bitbucket",
                ),
            ]
        )


@contextlib.asynccontextmanager
async def forge_status_server(token: str) -> AsyncIterator[FakeForge]:
    """The fake forge, listening on a free loopback port for the life of the block."""
    forge = FakeForge(token=token)
    async with serving_on_loopback(forge.app()) as url:
        forge.url = url
        yield forge
