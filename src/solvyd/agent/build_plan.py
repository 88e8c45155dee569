"""A build's plan, made once before it runs: the agent's prepare phase.

For a job with a repository, the checkout's credentials are fetched (and masked); when the
pipeline lives in the repository (``JobSpec.pipeline_path``), its file is read from git on the
agent's machine (``checkout.read_file_at_commit``: a bare depth-1 fetch of the build's commit
or branch into a scratch directory), which also resolves the commit, and the build is planned
from it. Whether this agent's executor can run that plan is decided here (else the build is
handed back). Then the secrets the plan's steps name are fetched, and the builtin checkout
step is put first. ``run_job`` then runs the plan as it is.

Everything this phase says goes to the build's log under the checkout step, and a failure
marks that step ``error``, as when the checkout ran inside the agent.
"""

import asyncio
from dataclasses import dataclass, field

from solvyd.agent import secrets
from solvyd.agent.checkout import DEFAULT_TIMEOUT_SECONDS, CheckoutError, read_file_at_commit
from solvyd.agent.checkout_program import CREDENTIALS_ENV, REQUEST_ENV, CheckoutRequest
from solvyd.agent.checkout_program import request_json as checkout_request_json
from solvyd.agent.client import ServerClient
from solvyd.agent.metrics import AgentMetrics
from solvyd.agent.repo_pipeline import (
    MAX_PIPELINE_BYTES,
    RepoPipelineError,
    check_pipeline_path,
    decode_pipeline,
    plan_from_text,
)
from solvyd.agent.reporter import BuildReporter
from solvyd.pipeline.executors.base import Executor
from solvyd.pipeline.runtime import step_dependencies
from solvyd.protocol import (
    CHECKOUT_STEP,
    BuildStatus,
    BuildStatusUpdate,
    GraphStep,
    JobSpec,
    StepGraph,
    StepSpec,
    StepStatus,
    StepStatusUpdate,
)
from solvyd.shared.clock import utcnow


class PrepareFailed(Exception):
    """The build cannot run: its message is the build's error. ``pipeline_invalid``: the
    repository's pipeline file is at fault (invalid, missing, refused), which a retry cannot
    mend: the build fails instead of erring."""

    def __init__(self, message: str, *, pipeline_invalid: bool = False) -> None:
        super().__init__(message)
        self.pipeline_invalid = pipeline_invalid


@dataclass
class PreparedBuild:
    """What the prepare phase made of a build."""

    plan: JobSpec  # the final plan: checkout step first, secret values in `secret_env`
    notices: secrets.StepNotices = field(default_factory=secrets.StepNotices)
    # The plan read from the repository (None: the server's plan ran): its artifacts count.
    repository_plan: JobSpec | None = None
    commit_sha: str | None = None
    # Why the agent gives the build back instead of running it; None: it runs it.
    handed_back: str | None = None


def checkout_timeout(spec: JobSpec) -> float:
    timeout = DEFAULT_TIMEOUT_SECONDS
    if spec.timeout_seconds and spec.timeout_seconds > 0:
        timeout = min(timeout, spec.timeout_seconds)
    return timeout


def checkout_step(
    spec: JobSpec, commit_sha: str | None, credentials_secret: str | None
) -> StepSpec:
    """The builtin step that checks the sources out into the workspace: pinned to the commit
    the pipeline was read from, when it was."""
    assert spec.scm_url is not None  # noqa: S101 - only called for a job with a repository
    request = CheckoutRequest(
        scm_url=spec.scm_url,
        commit_sha=commit_sha or spec.commit_sha,
        branch=spec.branch,
        checkout_ref=spec.checkout_ref,
        checkout_url=spec.checkout_url,
        timeout_seconds=checkout_timeout(spec),
    )
    return StepSpec(
        name=CHECKOUT_STEP,
        builtin="checkout",
        commands=[],
        env={REQUEST_ENV: checkout_request_json(request)},
        secret_env={CREDENTIALS_ENV: credentials_secret} if credentials_secret else {},
        timeout_seconds=checkout_timeout(spec),
    )


def with_checkout_first(plan: JobSpec, checkout: StepSpec) -> JobSpec:
    """The plan with `checkout` before every step that waits for nothing else (as
    `plan_graph` draws it)."""
    steps = plan.steps
    if any(step.depends_on for step in steps):
        steps = [
            step if step.depends_on else step.model_copy(update={"depends_on": [CHECKOUT_STEP]})
            for step in steps
        ]
    # Without any depends_on the steps run in the order listed: first is first.
    return plan.model_copy(update={"steps": [checkout, *steps]})


def plan_graph(plan: JobSpec, *, checkout: bool) -> StepGraph:
    """The graph the runtime follows for `plan` (`step_dependencies`), with the checkout, when
    the build has one, before every step that waits for nothing else."""
    waits_for = step_dependencies(plan.steps)
    position = {step.name: index for index, step in enumerate(plan.steps)}
    steps = [GraphStep(name=CHECKOUT_STEP)] if checkout else []
    for step in plan.steps:
        depends_on = sorted(waits_for[step.name], key=position.__getitem__)
        if not depends_on and checkout:
            depends_on = [CHECKOUT_STEP]
        steps.append(GraphStep(name=step.name, depends_on=depends_on))
    return StepGraph(steps=steps)


def hand_back_reason(executor: Executor, planned: JobSpec) -> str | None:
    """A plan read from the repository is known only now: the server could not tell whether
    this agent can run it. Why it cannot (steps without image, no default image), or None."""
    if executor.runs_steps_without_image:
        return None
    imageless = planned.steps_without_image()
    if not imageless:
        return None
    return (
        f"{planned.pipeline_path}: the steps {', '.join(imageless)} name no image, and this "
        f"agent's {executor.name} executor has no default image (--default-image)"
    )


class _CheckoutLog:
    """The checkout step's lines and status while the agent prepares the build."""

    def __init__(self, reporter: BuildReporter, metrics: AgentMetrics, active: bool) -> None:
        self._reporter = reporter
        self._metrics = metrics
        self.active = active
        self.started_at = utcnow()
        if active:
            reporter.step_status(
                CHECKOUT_STEP,
                StepStatusUpdate(status=StepStatus.RUNNING, started_at=self.started_at),
            )

    def line(self, text: str) -> None:
        self._reporter.log_line(CHECKOUT_STEP if self.active else None, text)

    def failed(self, status: StepStatus, message: str) -> StepStatusUpdate | None:
        if not self.active:
            return None
        update = StepStatusUpdate(
            status=status,
            started_at=self.started_at,
            completed_at=utcnow(),
            error_message=message,
        )
        self._reporter.step_status(CHECKOUT_STEP, update)
        self._metrics.step_finished(status.value, update.started_at, update.completed_at)
        return update


async def prepare_build(
    client: ServerClient,
    executor: Executor,
    spec: JobSpec,
    reporter: BuildReporter,
    metrics: AgentMetrics,
) -> PreparedBuild:
    """Plan `spec` for `executor` (see the module docstring). Raises `PrepareFailed` (after
    marking the checkout step) when the build cannot run; the caller's cancellation is let
    through, the checkout step then marked cancelled."""
    log = _CheckoutLog(reporter, metrics, active=spec.scm_url is not None)
    try:
        return await _prepare(client, executor, spec, reporter, log)
    except asyncio.CancelledError:
        log.failed(StepStatus.CANCELLED, "interrupted")
        raise
    except (CheckoutError, RepoPipelineError, secrets.SecretsUnavailable) as exc:
        message = str(exc)
        for line in message.splitlines():
            log.line(line)
        invalid = isinstance(exc, RepoPipelineError)
        log.failed(StepStatus.FAILURE if invalid else StepStatus.ERROR, message)
        raise PrepareFailed(
            f"preparing the build failed: {message}", pipeline_invalid=invalid
        ) from exc


async def _prepare(
    client: ServerClient,
    executor: Executor,
    spec: JobSpec,
    reporter: BuildReporter,
    log: _CheckoutLog,
) -> PreparedBuild:
    prepared = PreparedBuild(plan=spec)
    credentials_secret = None
    if spec.scm_url is not None:
        credentials_secret = await secrets.checkout_credentials_text(client, spec)
        if credentials_secret is not None:
            credentials = secrets.parse_checkout_credentials(spec, credentials_secret)
            # Masked before git prints a line, and for the rest of the build: a step that
            # finds the value (or its base64 form) some other way prints ***.
            reporter.mask([credentials_secret, *credentials.secrets()])
            log.line(f"using the checkout credentials {spec.checkout_credentials}")
        if spec.pipeline_path:
            prepared = await _plan_from_repository(
                executor, spec, reporter, log, credentials_secret
            )
            if prepared.handed_back is not None:
                return prepared
    plan = prepared.plan
    if secrets.requested(plan):
        reply = await secrets.fetch(client, plan)
        reporter.mask(reply.values.values())
        prepared.notices = secrets.missing_notices(plan, reply)
        plan = secrets.with_secrets(plan, reply.values)
    if spec.scm_url is not None:
        plan = with_checkout_first(
            plan, checkout_step(spec, prepared.commit_sha, credentials_secret)
        )
    prepared.plan = plan
    return prepared


async def _plan_from_repository(
    executor: Executor,
    spec: JobSpec,
    reporter: BuildReporter,
    log: _CheckoutLog,
    credentials_secret: str | None,
) -> PreparedBuild:
    assert spec.pipeline_path is not None  # noqa: S101 - checked by the caller
    check_pipeline_path(spec.pipeline_path)
    credentials = (
        secrets.parse_checkout_credentials(spec, credentials_secret)
        if credentials_secret is not None
        else None
    )
    sha, content = await read_file_at_commit(
        spec,
        spec.pipeline_path,
        log.line,
        max_bytes=MAX_PIPELINE_BYTES,
        credentials=credentials,
        timeout_seconds=checkout_timeout(spec),
    )
    reporter.build_status(BuildStatusUpdate(status=BuildStatus.RUNNING, commit_sha=sha))
    log.line(f"planning the build from {spec.pipeline_path}")
    text = decode_pipeline(spec.pipeline_path, content)
    planned, warnings = await asyncio.to_thread(plan_from_text, spec, text, sha)
    for warning in warnings:
        log.line(warning)
    reporter.mask(planned.mask)
    log.line(f"steps: {', '.join(step.name for step in planned.steps)}")
    prepared = PreparedBuild(plan=planned, repository_plan=planned, commit_sha=sha)
    prepared.handed_back = hand_back_reason(executor, planned)
    if prepared.handed_back is not None:
        log.line(f"{prepared.handed_back}; handing the build back to the queue")
        log.failed(StepStatus.ERROR, f"{prepared.handed_back}; handing the build back")
    return prepared
