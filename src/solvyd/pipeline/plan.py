"""Plan a build: a parsed pipeline plus what triggered it becomes the ``JobSpec`` an agent runs.

The plan is pure data; it runs nothing and reads no clock, so the server can plan a build when
it is queued and every agent runs exactly what was planned.
"""

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from solvyd.pipeline.config.matrix import ExpandedStep, expand_steps
from solvyd.pipeline.config.models import DeployConfig, PipelineConfig, WhenConfig
from solvyd.pipeline.config.parser import MAX_PLANNED_CHARACTERS
from solvyd.protocol.messages import DeploySpec, JobSpec, KubernetesDeployTarget, StepSpec


class PlanRefused(ValueError):
    """The planned job spec cannot be stored or sent to an agent."""


class PlanTooLarge(PlanRefused):
    """The planned job spec is over ``MAX_PLANNED_CHARACTERS`` of JSON: the job's and the
    trigger's variables on top of what the parser already bounded."""


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
    # The event the build is planned for: push, pull_request, tag, manual or cron (for
    # `when.event`); a manual retry keeps its original's.
    event: str = "manual"
    # What the forge said about it, when it did.
    tag: str | None = None
    pull_request: int | None = None
    target_branch: str | None = None
    commit_message: str | None = None
    commit_author: str | None = None


def system_env(context: BuildContext) -> dict[str, str]:
    """The variables every step sees; a pipeline or trigger cannot override them. What is not
    known is an empty string, so a step can test it without tripping `set -u`."""
    return {
        "CI": "true",
        "SOLVYD": "true",
        "SOLVYD_BUILD_ID": str(context.build_id),
        "SOLVYD_BUILD_NUMBER": str(context.build_number),
        "SOLVYD_JOB_ID": str(context.job_id),
        "SOLVYD_JOB_NAME": context.job_name,
        "SOLVYD_BRANCH": context.branch or "",
        "SOLVYD_COMMIT_SHA": context.commit_sha or "",
        "SOLVYD_EVENT": context.event,
        "SOLVYD_TAG": context.tag or "",
        "SOLVYD_PULL_REQUEST": str(context.pull_request)
        if context.pull_request is not None
        else "",
        "SOLVYD_TARGET_BRANCH": context.target_branch or "",
        "SOLVYD_COMMIT_MESSAGE": context.commit_message or "",
        "SOLVYD_COMMIT_AUTHOR": context.commit_author or "",
    }


def origin_from_env(env: dict[str, str]) -> dict[str, Any]:
    """The `BuildContext` fields of what started the build, read back from the system
    variables a plan set (`system_env`): an agent that plans from the repository's file gets
    the server's facts this way. Absent or empty means not known."""
    number = env.get("SOLVYD_PULL_REQUEST", "")
    return {
        "tag": env.get("SOLVYD_TAG") or None,
        "pull_request": int(number) if number.isdecimal() else None,
        "target_branch": env.get("SOLVYD_TARGET_BRANCH") or None,
        "commit_message": env.get("SOLVYD_COMMIT_MESSAGE") or None,
        "commit_author": env.get("SOLVYD_COMMIT_AUTHOR") or None,
    }


def plan_job(config: PipelineConfig, context: BuildContext) -> JobSpec:
    """``JobSpec.env`` is, lowest precedence first: the pipeline's env, the job's, the trigger's,
    then the system variables. Each step's own env (with its matrix values on top) is kept apart
    in ``StepSpec.env`` and applied on top by the executor, together with ``SOLVYD_STEP_NAME``
    and ``SOLVYD_WORKSPACE``, which depend on the machine the step runs on.

    Matrices are expanded (``config.matrix``), ``when.branch`` and ``when.event`` decided: a step
    that does not match is left out, and a step that waited for it waits for what it waited for
    instead. ``depends_on`` is always filled in: when no step of the file gives one, each step
    depends on the one before it (within one combination of the pipeline's matrix), so the
    runtime only follows the graph."""
    env = {**config.env, **context.job_env, **context.trigger_env, **system_env(context)}
    expanded = expand_steps(config)
    kept = [step for step in expanded if _selected(step.config.when, context)]
    if config.sequential:
        dependencies = _in_order(kept)
    else:
        dependencies = _without_dropped(expanded, {step.name for step in kept})
    steps = [_step_spec(config, step, dependencies[step.name], env) for step in kept]
    timeout = context.timeout_seconds if context.timeout_seconds is not None else config.timeout
    spec = JobSpec(
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
        labels=sorted({*context.labels, *config.labels}),
        event=context.event,
        mask=_masked_values(config, env, steps),
    )
    _check_size(spec)
    return spec


def _check_size(spec: JobSpec) -> None:
    """Written out a step at a time, stopping at the limit: the steps share their strings in
    memory, so only their JSON would be large, and it is never made whole here."""
    try:
        size = len(spec.model_dump_json(exclude={"steps"}))
        for step in spec.steps:
            if size > MAX_PLANNED_CHARACTERS:
                break
            size += len(step.model_dump_json()) + 1
    except PydanticSerializationError as exc:
        # Only values stored before text was checked at the API's edge can hold one.
        raise PlanRefused(
            "the planned build holds text that cannot be encoded (a lone surrogate in the "
            "job's pipeline or variables); edit the job"
        ) from exc
    if size > MAX_PLANNED_CHARACTERS:
        raise PlanTooLarge(
            f"the planned build is larger than {MAX_PLANNED_CHARACTERS:,} characters of JSON "
            "(its steps, variables and secrets' names); make the pipeline or its variables "
            "smaller"
        )


def _masked_values(config: PipelineConfig, env: dict[str, str], steps: list[StepSpec]) -> list[str]:
    """The values of the variables `mask:` names, wherever they are set (build or step env)."""
    values = {
        scope[name]
        for scope in [env, *(step.env for step in steps)]
        for name in config.mask
        if scope.get(name)
    }
    return sorted(values)


def _selected(when: WhenConfig | None, context: BuildContext) -> bool:
    """``when.branch`` (globs, ``*`` also matching ``/``) and ``when.event``; a build whose
    branch is unknown matches no branch condition."""
    if when is None:
        return True
    if when.event is not None and context.event not in when.event:
        return False
    if when.branch is not None:
        branch = context.branch
        if branch is None or not any(fnmatch.fnmatchcase(branch, glob) for glob in when.branch):
            return False
    return True


def _in_order(kept: list[ExpandedStep]) -> dict[str, list[str]]:
    previous: dict[int, str] = {}
    dependencies: dict[str, list[str]] = {}
    for step in kept:
        before = previous.get(step.group)
        dependencies[step.name] = [before] if before is not None else []
        previous[step.group] = step.name
    return dependencies


def _without_dropped(expanded: list[ExpandedStep], kept: set[str]) -> dict[str, list[str]]:
    """Each kept step's dependencies, a dropped step replaced by its own (so order holds)."""
    declared = {step.name: step.depends_on for step in expanded}
    resolved: dict[str, list[str]] = {}

    def resolve(name: str) -> list[str]:
        # Dropped steps only: the graph has no cycle (the parser checked), and memoised.
        if name not in resolved:
            found: list[str] = []
            for dependency in declared[name]:
                for item in [dependency] if dependency in kept else resolve(dependency):
                    if item not in found:
                        found.append(item)
            resolved[name] = found
        return resolved[name]

    result: dict[str, list[str]] = {}
    for step in expanded:
        if step.name in kept:
            result[step.name] = []
            for dependency in step.depends_on:
                for item in [dependency] if dependency in kept else resolve(dependency):
                    if item not in result[step.name]:
                        result[step.name].append(item)
    return result


def _step_spec(
    config: PipelineConfig, step: ExpandedStep, depends_on: list[str], env: dict[str, str]
) -> StepSpec:
    source = step.config
    resources = source.resources
    status = source.when.status if source.when is not None else None
    step_env = {**source.env, **step.matrix_env}
    deploy = source.deploy
    return StepSpec(
        name=step.name,
        commands=list(source.commands or []),
        image=source.image or config.image,
        env={**source.env, **step.matrix_env},
        timeout_seconds=source.timeout,
        allow_failure=source.allow_failure,
        depends_on=depends_on,
        run_on=list(status) if status is not None else ["success"],
        secrets=list(source.secrets),
        artifacts=list(source.artifacts),
        cpus=resources.cpus if resources is not None else None,
        memory_bytes=resources.memory if resources is not None else None,
        deploy=_deploy_spec(step.name, deploy, {**env, **step_env}) if deploy is not None else None,
    )


# `${NAME}` or `$NAME`; `$$` is a plain `$`.
_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_variables(text: str, env: dict[str, str]) -> str:
    """`text` with the build's variables put in, as a shell would (an unset one is empty).
    Only for what the server reads (a deploy's image and version): commands are expanded by
    the step's own shell."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return "$" if name is None else env.get(name, "")

    return _VARIABLE.sub(value, text)


def _deploy_spec(step: str, deploy: DeployConfig, env: dict[str, str]) -> DeploySpec:
    """The step's `deploy:`, its image and version expanded with the variables the step sees
    (the build's and its own), so the server deploys what the build made. What the variables
    make of them is only known here: an image that expands to nothing, or a value too long,
    is refused naming the field (the parser saw only the text with `$NAME` in it)."""
    try:
        target = None
        if deploy.kubernetes is not None:
            kube = deploy.kubernetes
            target = KubernetesDeployTarget(
                namespace=kube.namespace,
                deployment=kube.deployment,
                container=kube.container,
                image=expand_variables(kube.image, env),
            )
        version = expand_variables(deploy.version, env) if deploy.version is not None else None
        return DeploySpec(
            environment=deploy.environment,
            approval=deploy.approval,
            rollback=deploy.rollback,
            version=version or None,
            kubernetes=target,
            **(
                {"rollout_timeout_seconds": deploy.rollout_timeout}
                if deploy.rollout_timeout is not None
                else {}
            ),
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        field = (
            f"deploy.kubernetes.{where}"
            if exc.title == "KubernetesDeployTarget"
            else f"deploy.{where}"
        )
        raise PlanRefused(
            f"step '{step}': {field} as the build's variables expand it is refused: "
            f"{_expanded_problem(problem)}"
        ) from None


def _expanded_problem(problem: Any) -> str:
    """Pydantic's message, without the value (it may be long, and is the build's)."""
    context = problem.get("ctx") or {}
    if problem["type"] == "string_too_short":
        return "it is empty"
    if problem["type"] == "string_too_long":
        return f"it is longer than {context.get('max_length')} characters"
    return str(problem["msg"])
