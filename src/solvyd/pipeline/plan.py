"""Plan a build: a parsed pipeline plus what triggered it becomes the ``JobSpec`` an agent runs.

The plan is pure data; it runs nothing and reads no clock, so the server can plan a build when
it is queued and every agent runs exactly what was planned.
"""

from dataclasses import dataclass, field
from uuid import UUID

from solvyd.pipeline.config.models import PipelineConfig
from solvyd.protocol.messages import JobSpec, StepSpec


@dataclass(frozen=True, kw_only=True)
class BuildContext:
    """What the server knows about one build beyond its pipeline."""

    build_id: UUID
    build_number: int
    job_id: UUID
    job_name: str
    scm_url: str | None = None
    branch: str | None = None
    commit_sha: str | None = None
    job_env: dict[str, str] = field(default_factory=dict)
    trigger_env: dict[str, str] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    # The job's own setting; when set it wins over the pipeline's `timeout`, because it is the
    # operator's limit and the pipeline file is the committer's.
    timeout_seconds: float | None = None


def system_env(context: BuildContext) -> dict[str, str]:
    """The variables every step sees; a pipeline or trigger cannot override them."""
    return {
        "CI": "true",
        "SOLVYD": "true",
        "SOLVYD_BUILD_ID": str(context.build_id),
        "SOLVYD_BUILD_NUMBER": str(context.build_number),
        "SOLVYD_JOB_ID": str(context.job_id),
        "SOLVYD_JOB_NAME": context.job_name,
        "SOLVYD_BRANCH": context.branch or "",
        "SOLVYD_COMMIT_SHA": context.commit_sha or "",
    }


def plan_job(config: PipelineConfig, context: BuildContext) -> JobSpec:
    """``JobSpec.env`` is, lowest precedence first: the pipeline's env, the job's, the trigger's,
    then the system variables. Each step's own env is kept apart in ``StepSpec.env`` and applied
    on top by the executor, together with ``SOLVYD_STEP_NAME`` and ``SOLVYD_WORKSPACE``, which
    depend on the machine the step runs on."""
    env = {**config.env, **context.job_env, **context.trigger_env, **system_env(context)}
    steps = [
        StepSpec(
            name=step.name,
            commands=list(step.commands),
            image=step.image or config.image,
            env=dict(step.env),
            timeout_seconds=step.timeout,
            allow_failure=step.allow_failure,
        )
        for step in config.steps
    ]
    timeout = context.timeout_seconds if context.timeout_seconds is not None else config.timeout
    return JobSpec(
        build_id=context.build_id,
        build_number=context.build_number,
        job_id=context.job_id,
        job_name=context.job_name,
        scm_url=context.scm_url,
        branch=context.branch,
        commit_sha=context.commit_sha,
        env=env,
        steps=steps,
        timeout_seconds=timeout,
        artifacts=list(config.artifacts),
        labels=list(context.labels),
    )
