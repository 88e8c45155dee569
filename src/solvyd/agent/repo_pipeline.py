"""Plan a build from the pipeline file of its repository.

The agent reads the file from git before the build runs (``agent/build_plan.py``) and plans
from its text (``plan_from_text``); ``plan_from_repository`` does the same from a checked-out
tree (``solvyd exec`` on a local checkout).
"""

from pathlib import Path, PurePosixPath

from solvyd.pipeline.config import PipelineError, check_pipeline
from solvyd.pipeline.plan import BuildContext, PlanRefused, origin_from_env, plan_job
from solvyd.protocol import CHECKOUT_STEP, JobSpec

MAX_PIPELINE_BYTES = 1024 * 1024


class RepoPipelineError(Exception):
    """The repository's pipeline file is missing, unreadable or invalid; the message says
    where (``.solvyd.yml:3:5: ...`` for an invalid file)."""


def pipeline_file(workspace: Path, pipeline_path: str) -> Path:
    """The file ``pipeline_path`` names inside ``workspace``; it may not point outside it."""
    check_pipeline_path(pipeline_path)
    relative = PurePosixPath(pipeline_path)
    path = workspace / Path(*relative.parts)
    root = workspace.resolve()
    try:
        resolved = path.resolve()
    except OSError as exc:
        raise RepoPipelineError(f"cannot read the pipeline file {pipeline_path}: {exc}") from exc
    if resolved != root and root not in resolved.parents:
        raise RepoPipelineError(f"the pipeline file {pipeline_path} points outside the repository")
    return path


def read_pipeline_text(workspace: Path, pipeline_path: str) -> str:
    path = pipeline_file(workspace, pipeline_path)
    try:
        if path.stat().st_size > MAX_PIPELINE_BYTES:
            raise RepoPipelineError(
                f"the pipeline file {pipeline_path} is larger than {MAX_PIPELINE_BYTES} bytes"
            )
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RepoPipelineError(f"the repository has no pipeline file {pipeline_path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RepoPipelineError(f"cannot read the pipeline file {pipeline_path}: {exc}") from exc


def context_from_spec(spec: JobSpec, commit_sha: str | None) -> BuildContext:
    """The build's context, rebuilt from what the server sent. ``spec.env`` already holds the
    job's and the trigger's env merged, and the system variables, which plan_job sets again:
    what started the build (tag, pull request, commit message ...) is read back from them."""
    return BuildContext(
        build_id=spec.build_id,
        build_number=spec.build_number,
        job_id=spec.job_id,
        job_name=spec.job_name,
        scm_url=spec.scm_url,
        branch=spec.branch,
        commit_sha=commit_sha or spec.commit_sha,
        job_env=dict(spec.env),
        labels=list(spec.labels),
        timeout_seconds=spec.timeout_seconds,
        event=spec.event,
        **origin_from_env(spec.env),
    )


def plan_from_repository(
    spec: JobSpec, workspace: Path, commit_sha: str | None
) -> tuple[JobSpec, list[str]]:
    """Read ``spec.pipeline_path`` from ``workspace`` (a checked-out tree) and plan it, as
    ``plan_from_text``."""
    if not spec.pipeline_path:
        raise RepoPipelineError("the build has no pipeline_path")
    return plan_from_text(spec, read_pipeline_text(workspace, spec.pipeline_path), commit_sha)


def check_pipeline_path(pipeline_path: str) -> None:
    """Refuse a ``pipeline_path`` that is not a plain relative path inside the repository."""
    relative = PurePosixPath(pipeline_path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise RepoPipelineError(
            f"pipeline_path {pipeline_path!r} must be a path inside the repository"
        )


def decode_pipeline(pipeline_path: str, content: bytes | None) -> str:
    """The text of the pipeline file read from git (None: the commit has no such file)."""
    if content is None:
        raise RepoPipelineError(f"the repository has no pipeline file {pipeline_path}")
    if len(content) > MAX_PIPELINE_BYTES:
        raise RepoPipelineError(
            f"the pipeline file {pipeline_path} is larger than {MAX_PIPELINE_BYTES} bytes"
        )
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RepoPipelineError(f"cannot read the pipeline file {pipeline_path}: {exc}") from exc


def plan_from_text(spec: JobSpec, text: str, commit_sha: str | None) -> tuple[JobSpec, list[str]]:
    """Parse and plan ``text``, the content of ``spec.pipeline_path`` at ``commit_sha``, for
    this build: the plan, which keeps ``pipeline_path``, the attempt and the event that
    triggered the build, and the file's warnings as lines for the build's log."""
    if not spec.pipeline_path:
        raise RepoPipelineError("the build has no pipeline_path")
    try:
        checked = check_pipeline(text, filename=spec.pipeline_path)
    except PipelineError as exc:
        raise RepoPipelineError(str(exc)) from exc
    config = checked.config
    warnings = [item.describe(spec.pipeline_path, "warning") for item in checked.warnings]
    try:
        planned = plan_job(config, context_from_spec(spec, commit_sha))
    except PlanRefused as exc:
        raise RepoPipelineError(f"{spec.pipeline_path}: {exc}") from exc
    if any(step.name == CHECKOUT_STEP for step in planned.steps):
        # The agent's checkout step comes first under this name (as the server refuses it for
        # the pipelines it plans).
        raise RepoPipelineError(
            f"{spec.pipeline_path}: step name {CHECKOUT_STEP!r} is taken by the repository "
            "checkout; rename it"
        )
    planned = planned.model_copy(
        update={
            "pipeline_path": spec.pipeline_path,
            # The attempt names the workspace and goes with every report: a retried build's
            # plan must keep it.
            "attempt": spec.attempt,
            "event": spec.event,
            "checkout_ref": spec.checkout_ref,
            "checkout_url": spec.checkout_url,
            "max_parallel_steps": spec.max_parallel_steps,
        }
    )
    return planned, warnings
