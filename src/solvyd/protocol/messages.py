"""Pydantic messages of the agent protocol.

The verbs, in the order an agent uses them (all HTTP, agent -> server, under /api/v1):

- ``POST /workers/register`` (registration token) ``WorkerRegistration`` -> ``WorkerRegistered``:
  the answer carries the worker's own token, used for everything after. A name already
  registered is taken over (upsert) only with that worker's current token in the
  ``X-Solvyd-Worker-Token`` header (a restarted agent), else 409; labels the registration
  token does not grant are refused (403).
- ``POST /workers/{id}/heartbeat`` ``Heartbeat`` -> ``HeartbeatReply``: keeps the worker online;
  tells it whether work is waiting and which of its builds were cancelled.
- ``POST /workers/{id}/claim`` ``ClaimRequest`` -> ``JobSpec`` (200) or nothing (204): a long poll
  that atomically assigns the oldest queued build whose labels the worker has.
- ``PUT /builds/{id}/status`` ``BuildStatusUpdate``: ``running`` when the agent starts, a final
  status when it ends. Repeating the current status is a no-op; an illegal change answers 409.
  A build that ends ``error`` says why in ``error_kind``, and that alone decides whether the
  server retries it (while the job's ``max_retries`` allows): ``infrastructure`` (the executor
  failed, the build could not be prepared, the agent's own fault) and ``agent_stopped`` (the
  agent shut down under it) are retried; ``timeout`` (the build or a step ran out of time) is
  the build's own doing and is not. A report without it (an agent older than the field) is
  retried unless its ``error_message`` says "timed out", as before.
- ``PUT /builds/{id}/steps/{name}`` ``StepStatusUpdate``: the same, per step.
- ``PUT /builds/{id}/graph`` ``StepGraph``: the steps of a plan the agent read from the
  repository and what each waits for, sent after the checkout read the pipeline file and
  before the first step starts; once per attempt, a repeat replaces it. (A plan the server
  handed out it draws itself.)
- ``POST /builds/{id}/logs`` ``LogBatch``: seq-numbered; a batch sent twice is stored once.
- ``GET /builds/{id}/cancel-wait?wait=S`` -> ``CancelState``: a long poll that answers as soon
  as the build is cancelled, or after ``wait`` seconds with ``cancelled: false``.
- ``POST /builds/{id}/secrets`` ``SecretsRequest`` -> ``SecretsReply``: the values of the secrets
  the build's steps ask for (``StepSpec.secrets``), once the plan is known and before any step
  runs. Values never travel in the ``JobSpec``: they are fetched by the worker holding the
  build, masked in its log, and given only to the steps that named them.
- ``POST /builds/{id}/deployments`` ``DeploymentRequest`` -> ``DeploymentState``: a deploy
  step registers its deployment (the same step and attempt again: the same one).
- ``GET /deployments/{id}/state?status=&after_line=&wait=`` -> ``DeploymentState``: a long
  poll that answers when the status differs from ``status`` or progress lines follow
  ``after_line``.
- ``PUT /deployments/{id}/outcome`` ``DeploymentOutcome`` -> ``DeploymentState``: how a
  running script deploy ended.
- ``POST /deployments/{id}/step-stopped`` -> ``DeploymentState``: the deploy step stopped
  before its deployment ended (its timeout, a cancel the build goes on from): a waiting
  deployment is cancelled, a running script deploy fails; a server's rollout is carried to
  its end. Idempotent.
"""

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

# 2: `POST /builds/{id}/reports` takes several reports of a build in one request. An agent
# folds its reports only for a server that says (at registration) it speaks 2 or later.
PROTOCOL_VERSION = 2
# The first version in which the server takes folded reports.
FOLDED_REPORTS_VERSION = 2

# The step under which an agent reports cloning the repository; it comes before all others.
CHECKOUT_STEP = "checkout"

# Step names appear in URLs (PUT /builds/{id}/steps/{name}), in log headers and in the UI.
# The pipeline language names a step with this; a matrix copy of it is named
# `name (A=1, B=x)` (`pipeline.config.matrix.combination_name`), with values of any text
# but control and format characters (those hide text or turn it right to left), and the
# language refuses a matrix whose copies' names break this rule. An agent reports steps by
# these names, so the server takes no other.
STEP_NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_. -]{0,99}"
MAX_STEP_NAME_LENGTH = 500
_STEP_NAME = re.compile(STEP_NAME_PATTERN)
_MATRIX_COPY = re.compile(rf"({STEP_NAME_PATTERN}) \(([A-Za-z_][A-Za-z0-9_]*=.*)\)", re.DOTALL)
# Control (Cc), format (Cf: bidi overrides, zero-width), surrogate (Cs), private-use (Co) and
# unassigned (Cn) characters, and the line and paragraph separators.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def is_base_step_name(name: str) -> bool:
    """A step's name as written in a pipeline file."""
    return _STEP_NAME.fullmatch(name) is not None


def is_step_name(name: str) -> bool:
    """A step's name in a build: as written in the pipeline, or a matrix copy of it."""
    if is_base_step_name(name):
        return True
    copy = _MATRIX_COPY.fullmatch(name)
    return (
        copy is not None
        and len(name) <= MAX_STEP_NAME_LENGTH
        and not any(unicodedata.category(c) in _UNPRINTABLE_CATEGORIES for c in copy.group(2))
    )


def check_step_name(name: str) -> str:
    """`name` if it is a step name (`is_step_name`), else a validation error (a 422)."""
    if not is_step_name(name):
        raise PydanticCustomError(
            "step_name",
            "a step name has 1 to 100 letters, digits, spaces, '_', '.' or '-', does not "
            "start with a space, '.' or '-', and may end with a matrix combination "
            "' (A=1, B=x)' of printable characters; at most {limit} characters in all",
            {"limit": MAX_STEP_NAME_LENGTH},
        )
    return name


# The outline, for the OpenAPI document; `check_step_name` checks the matrix values too.
STEP_NAME_OUTLINE = rf"^{STEP_NAME_PATTERN}( \([A-Za-z_][A-Za-z0-9_]*=.*\))?$"
StepName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_STEP_NAME_LENGTH, pattern=STEP_NAME_OUTLINE),
    AfterValidator(check_step_name),
]


class BuildStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    ERROR = "error"  # the infrastructure failed: lost worker, executor fault, timeout

    @property
    def finished(self) -> bool:
        return self not in (BuildStatus.QUEUED, BuildStatus.RUNNING)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    ERROR = "error"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self not in (StepStatus.PENDING, StepStatus.RUNNING)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")


# Numbers the server stores go into 32-bit INTEGER columns; a larger one is refused (422) by
# the message, not by the database driver (SQLite's cannot even bind one past 2**63).
INT32_MAX = 2**31 - 1
Int32 = Annotated[int, Field(ge=-INT32_MAX - 1, le=INT32_MAX)]


# What an agent may say of its plugins: bounded, since a registration is hostile input.
MAX_REPORTED_PLUGINS = 100
MAX_PLUGIN_ERROR = 1000
PluginStatus = Literal["loaded", "refused", "failed"]


class PluginProvidesReport(_Message):
    executors: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)
    ] = Field(default_factory=list)


class PluginReport(_Message):
    """One plugin of the agent (executor backends), as its plugin manager loaded it."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    version: Annotated[str, Field(max_length=100)] | None = None
    builtin: StrictBool = False
    provides: PluginProvidesReport = Field(default_factory=PluginProvidesReport)
    status: PluginStatus
    error: Annotated[str, Field(max_length=MAX_PLUGIN_ERROR)] | None = None


class Capabilities(_Message):
    labels: list[str] = Field(default_factory=list)
    executors: list[str] = Field(default_factory=list)
    concurrency: Annotated[int, Field(ge=1, le=256)] = 1
    # Whether the agent's executor runs a step that names no image (local: yes; docker: only
    # with a default image). Absent (an older agent): the server infers it from `executors`.
    runs_steps_without_image: StrictBool | None = None
    # Its plugins (an older agent sends none).
    plugins: Annotated[list[PluginReport], Field(max_length=MAX_REPORTED_PLUGINS)] = Field(
        default_factory=list
    )


class WorkerRegistration(_Message):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    hostname: str = ""
    ip: str = ""
    capabilities: Capabilities = Field(default_factory=Capabilities)
    version: str = ""
    protocol_version: Annotated[int, Field(ge=0, le=INT32_MAX)] = PROTOCOL_VERSION


class WorkerRegistered(_Message):
    id: UUID
    name: str
    registered_at: datetime
    token: str
    heartbeat_interval_seconds: float
    # The server's protocol version; a server older than the field speaks 1.
    protocol_version: Annotated[int, Field(ge=0, le=INT32_MAX)] = 1


class Heartbeat(_Message):
    current_builds: Annotated[int, Field(ge=0, le=INT32_MAX)] = 0
    health_status: str = "healthy"
    build_ids: list[UUID] = Field(default_factory=list)


class HeartbeatReply(_Message):
    has_work: bool
    cancelled_builds: list[UUID] = Field(default_factory=list)


class ClaimRequest(_Message):
    wait: Annotated[float, Field(ge=0, le=60)] = 30.0


# An environment's name, as a deploy step names it and URLs carry it (/environments/{name}).
ENVIRONMENT_NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"
# A Kubernetes object's name (a DNS-1123 subdomain, as the API server checks it).
KUBERNETES_NAME_PATTERN = r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$"


class KubernetesDeployTarget(_Message):
    """The built-in deploy target: set the image of one container of a Deployment and wait
    for its rollout. The server performs it (it holds the cluster's credentials, not the
    agents that run hostile steps)."""

    namespace: Annotated[str, Field(pattern=KUBERNETES_NAME_PATTERN, max_length=63)]
    deployment: Annotated[str, Field(pattern=KUBERNETES_NAME_PATTERN, max_length=253)]
    # The container whose image is set; None: the Deployment's only container.
    container: Annotated[str, Field(pattern=KUBERNETES_NAME_PATTERN, max_length=63)] | None = None
    # The image to roll out, the build's variables already expanded (`registry/app:${SHA}`).
    image: Annotated[str, Field(min_length=1, max_length=1000)]


class DeploySpec(_Message):
    """A step that deploys (`deploy:` in the pipeline): it runs only when its environment is
    free (one deployment at a time per environment) and, when approval is required (by the
    step or by the environment's own setting), once a developer approved it. With
    `kubernetes`, the server rolls the image out and the step has no commands; without, the
    step's commands deploy and the server records the outcome."""

    environment: Annotated[str, Field(pattern=ENVIRONMENT_NAME_PATTERN, max_length=63)]
    approval: Literal["required"] | None = None
    # `auto`: a failed rollout is rolled back to the environment's previous good version.
    rollback: Literal["auto", "manual"] = "manual"
    # What is deployed, as people read it: the image for `kubernetes`, else this (default:
    # the commit).
    version: Annotated[str, Field(max_length=1000)] | None = None
    kubernetes: KubernetesDeployTarget | None = None
    # How long the rollout may take before it is failed (the step's own timeout bounds the
    # whole step, waiting for approval included).
    rollout_timeout_seconds: Annotated[float, Field(gt=0, le=86400)] = 600.0


# The steps an agent adds to a plan and runs through its executor like any other.
BuiltinStep = Literal["checkout"]


class StepSpec(_Message):
    name: str
    commands: list[str]
    image: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float | None = None
    allow_failure: bool = False
    # Steps this one waits for; empty everywhere means "in the order listed".
    depends_on: list[str] = Field(default_factory=list)
    # Which outcomes of the steps before it let this step run: "success", "failure" or both
    # (a cleanup step runs on failure too).
    run_on: list[str] = Field(default_factory=lambda: ["success"])
    # Names of secrets the agent fetches (`SecretsRequest`) and sets as env vars of this step
    # only; the values are never part of the spec.
    secrets: list[str] = Field(default_factory=list)
    # Glob patterns, relative to the workspace, uploaded after the build.
    artifacts: list[str] = Field(default_factory=list)
    # Container limits (the docker and kubernetes executors apply them).
    cpus: float | None = None
    memory_bytes: int | None = None
    # Set by the agent, never by the server: a step the agent added to the plan (the
    # checkout), which each executor runs with its own program (see executors/base.py).
    builtin: BuiltinStep | None = None
    # The values of the secrets this step named (and the checkout's credentials), set by the
    # agent once fetched. Given to the step as env like `env`, but never serialised (nothing
    # the agent sends carries them) and kept out of plain pod specs and container configs
    # where the backend has a secret store (a Kubernetes Secret).
    secret_env: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)
    deploy: DeploySpec | None = None


class JobSpec(_Message):
    """Everything an agent needs to run one build: no database, no server state."""

    build_id: UUID
    build_number: int
    job_id: UUID
    job_name: str
    scm_url: str | None = None
    branch: str | None = None
    commit_sha: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    steps: list[StepSpec]
    timeout_seconds: float | None = None
    artifacts: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    # Set when the pipeline lives in the repository: the agent reads this file after the
    # checkout and plans the steps itself (`steps` is then empty).
    pipeline_path: str | None = None
    # What triggered the build: push, pull_request, tag, manual or cron (for `when`).
    event: str = "manual"
    # Where the commit can be fetched when a plain fetch of `commit_sha` from `scm_url` finds
    # nothing (a pull request's head): the forge's ref for it in `scm_url` (e.g.
    # refs/pull/7/head), and for a pull request from a fork the fork's clone URL.
    checkout_ref: str | None = None
    checkout_url: str | None = None
    # Steps of one build that may run at the same time on one agent.
    max_parallel_steps: int = 4
    # Which run of the build this is: 1, then one more per retry after an infrastructure error.
    # Set by the server when it hands the build out; the agent stamps its reports with it.
    attempt: int = 1
    # Secret values: the agent replaces them (and their encoded forms) by *** in the log.
    mask: list[str] = Field(default_factory=list)
    # The name of the job's secret holding an HTTPS token or an SSH private key for the
    # checkout (None: clone without credentials). Withheld for a fork's pull request unless
    # the job gives forks secrets. The agent fetches the value like a step's secret.
    checkout_credentials: str | None = None

    def steps_without_image(self) -> list[str]:
        """The steps that name no image: only an executor that runs such steps (local, or
        docker with a default image) can run them."""
        return [
            step.name
            for step in self.steps
            # A step the server deploys (the built-in Kubernetes target) runs nothing here.
            if not step.image and not (step.deploy is not None and step.deploy.kubernetes)
        ]


class LogLine(_Message):
    text: str
    ts: datetime | None = None


# On a report: the build attempt (`JobSpec.attempt`) it is about. A build retried after its
# worker was lost may come back to the same worker; the old run's late reports then carry the
# old attempt and are refused (409) instead of mixing into the new attempt's log and status.
Attempt = Annotated[int | None, Field(default=None, ge=1, le=INT32_MAX)]


class LogBatch(_Message):
    seq: Annotated[int, Field(ge=0, le=INT32_MAX)]
    step: StepName | None = None
    lines: list[LogLine]
    attempt: Attempt = None


# Why a build ended `error` (see `BuildStatusUpdate.error_kind`).
ErrorKind = Literal["timeout", "infrastructure", "agent_stopped"]


class BuildStatusUpdate(_Message):
    status: BuildStatus
    # The commit the checkout resolved to; may come with a repeated `running`.
    commit_sha: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    exit_code: Int32 | None = None
    error_message: str | None = None
    # A number: NaN or infinity would poison the build's record and the duration histogram.
    # A negative one (the agent's clock stepped back) is taken as 0: the final report of a
    # build that ran must not be refused for it.
    duration_seconds: Annotated[float, Field(allow_inf_nan=False)] | None = None
    attempt: Attempt = None
    # With status `queued`: the worker hands back a build whose plan (read from the repository
    # after the checkout) has a step that names no image, which its executor cannot run. The
    # build then waits for a worker that runs such steps; `error_message` says which steps.
    needs_step_without_image: StrictBool = False
    # Why a build ended `error`, for the server's retry decision (instead of matching words
    # of `error_message`): the build or a step ran out of time, the machinery failed (the
    # executor, the checkout, the agent's own fault), or the agent was stopped under it.
    error_kind: ErrorKind | None = None

    @model_validator(mode="after")
    def _hand_back_flag_only_when_queued(self) -> "BuildStatusUpdate":
        if self.needs_step_without_image and self.status is not BuildStatus.QUEUED:
            raise PydanticCustomError(
                "hand_back",
                "needs_step_without_image goes with status queued (a hand-back), not {status}",
                {"status": self.status.value},
            )
        return self


class StepStatusUpdate(_Message):
    status: StepStatus
    started_at: datetime | None = None
    completed_at: datetime | None = None
    exit_code: Int32 | None = None
    error_message: str | None = None
    attempt: Attempt = None


# Bounds of a `StepGraph`: a plan larger than this is not one a person drew.
MAX_GRAPH_STEPS = 1000
MAX_GRAPH_EDGES = 20000


class GraphStep(_Message):
    name: StepName
    depends_on: Annotated[list[StepName], Field(max_length=MAX_GRAPH_STEPS)] = Field(
        default_factory=list
    )


class StepGraph(_Message):
    """The steps of the plan an agent runs, in plan order, each with the steps it waits for
    (as the runtime schedules them: see `pipeline.runtime.step_dependencies`). The server
    checks that names are unique, that `depends_on` names steps of the same graph, and that
    there is no cycle."""

    steps: Annotated[list[GraphStep], Field(min_length=1, max_length=MAX_GRAPH_STEPS)]
    attempt: Attempt = None

    @model_validator(mode="after")
    def _a_graph(self) -> "StepGraph":
        names = [step.name for step in self.steps]
        if len(set(names)) != len(names):
            duplicate = next(name for name in names if names.count(name) > 1)
            raise PydanticCustomError(
                "step_graph", "step '{name}' is listed twice", {"name": duplicate}
            )
        if sum(len(step.depends_on) for step in self.steps) > MAX_GRAPH_EDGES:
            raise PydanticCustomError(
                "step_graph", "at most {limit} dependencies in all", {"limit": MAX_GRAPH_EDGES}
            )
        known = set(names)
        for step in self.steps:
            for dependency in step.depends_on:
                if dependency not in known:
                    raise PydanticCustomError(
                        "step_graph",
                        "step '{name}' depends on '{dependency}', which is not in the graph",
                        {"name": step.name, "dependency": dependency},
                    )
        cycle = _in_a_cycle({step.name: set(step.depends_on) for step in self.steps})
        if cycle:
            raise PydanticCustomError(
                "step_graph",
                "steps wait for each other in a cycle: {names}",
                {"names": ", ".join(cycle)},
            )
        return self


def _in_a_cycle(waits_for: dict[str, set[str]]) -> list[str]:
    """The steps that can never start (each waits, directly or not, for itself or for such a
    step); empty when the graph has no cycle. Kahn's algorithm: linear in steps and edges."""
    remaining = {name: len(dependencies) for name, dependencies in waits_for.items()}
    waited_by: dict[str, list[str]] = {}
    for name, dependencies in waits_for.items():
        for dependency in dependencies:
            waited_by.setdefault(dependency, []).append(name)
    ready = [name for name, count in remaining.items() if count == 0]
    while ready:
        for follower in waited_by.get(ready.pop(), []):
            remaining[follower] -= 1
            if remaining[follower] == 0:
                ready.append(follower)
    return [name for name, count in remaining.items() if count > 0]


class CancelState(_Message):
    cancelled: bool


# Bounds of one `BuildReports` request (its body is also bounded by the server's request
# size limit): more than an agent's sender ever folds into one request.
MAX_REPORTS_PER_REQUEST = 500


class LogReport(_Message):
    type: Literal["log"] = "log"
    batch: LogBatch


class StepReport(_Message):
    type: Literal["step"] = "step"
    step: StepName
    update: StepStatusUpdate


class BuildStatusReport(_Message):
    type: Literal["build"] = "build"
    update: BuildStatusUpdate


class GraphReport(_Message):
    type: Literal["graph"] = "graph"
    graph: StepGraph


AnyReport = Annotated[
    LogReport | StepReport | BuildStatusReport | GraphReport, Field(discriminator="type")
]


class BuildReports(_Message):
    """Reports of one build, in the order they happened, applied in that order in one
    transaction: all of them, or (one refused) none. Each means what it means on its own
    endpoint (`PUT /status`, `PUT /steps/{name}`, `PUT /graph`, `POST /logs`), repeats
    included: a stored log seq or a repeated status is a no-op."""

    reports: Annotated[list[AnyReport], Field(min_length=1, max_length=MAX_REPORTS_PER_REQUEST)]


class BuildReportAck(_Message):
    """The answer to a build's status report (or a `BuildReports`): where the build stands
    after it. `stop`: the build ended on the server (cancelled, timed out) while the agent
    still runs it; stop its steps."""

    id: UUID
    status: BuildStatus
    attempt: int
    stop: bool = False


# A secret's name is an environment variable's name.
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SecretName = Annotated[str, Field(min_length=1, max_length=200, pattern=ENV_NAME_PATTERN)]


class SecretsRequest(_Message):
    names: Annotated[list[SecretName], Field(min_length=1, max_length=500)]
    attempt: Attempt = None


class SecretsReply(_Message):
    """`values` by name for the secrets that are set (the job's own, else the global one);
    `missing` the names asked for and not given. `reason`, when set, says why values were
    withheld (a build of a pull request from a fork)."""

    values: dict[str, str] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    reason: str | None = None


# A deployment's states (server/services/deployments): waiting for approval or for its
# environment, running, and how it ended.
DeploymentStatus = Literal[
    "awaiting_approval", "queued", "running", "succeeded", "failed", "cancelled", "rejected"
]
# What made it: a deploy step, a user's rollback, or the server after a failed rollout.
DeploymentKind = Literal["deploy", "rollback", "auto_rollback"]
FINISHED_DEPLOYMENT_STATUSES: frozenset[str] = frozenset(
    {"succeeded", "failed", "cancelled", "rejected"}
)


class DeploymentRequest(_Message):
    """A deploy step's deployment. `deploy` is the step's as the agent planned it; for a
    plan the server made, the server's own copy of the step is what counts."""

    step: StepName
    deploy: DeploySpec
    attempt: Attempt = None


class DeploymentLogLine(_Message):
    ts: datetime
    text: str


class DeploymentState(_Message):
    id: UUID
    number: int
    environment: str
    kind: DeploymentKind
    status: DeploymentStatus
    version: str
    # Why a waiting deployment waits ("waiting for approval", "waiting for deployment #3
    # to staging"); None once it runs.
    waiting_reason: str | None = None
    # How it ended, or what it does now.
    message: str | None = None
    # Progress lines of the server's rollout from `after_line` on, and the index to ask from
    # next.
    lines: list[DeploymentLogLine] = Field(default_factory=list)
    next_line: int = 0
    # The rollback that replaced it (an automatic one after its rollout failed).
    rolled_back_by: UUID | None = None


class DeploymentOutcome(_Message):
    status: Literal["succeeded", "failed"]
    message: Annotated[str, Field(max_length=2000)] | None = None
    attempt: Attempt = None
