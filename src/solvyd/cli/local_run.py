"""`solvyd exec`: run a pipeline file on this machine, with no server, through the same
runtime and executors an agent uses. The way to debug a pipeline before pushing it."""

import asyncio
import shutil
import signal
import subprocess
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

import typer
from rich.text import Text

from solvyd.cli.env_passthrough import env_passthrough_names, env_passthrough_option
from solvyd.cli.errors import CliError
from solvyd.cli.exec_keep import KeepOutputs, host_workspace
from solvyd.cli.log_lines import LineFormat
from solvyd.cli.output import console, err_console
from solvyd.pipeline.config import PipelineError, parse_pipeline
from solvyd.pipeline.executors.base import Executor, ExecutorError
from solvyd.pipeline.executors.registry import create_executor
from solvyd.pipeline.executors.wrapping import WrappingExecutor
from solvyd.pipeline.plan import BuildContext, plan_job
from solvyd.pipeline.runtime import JobResult, StepResult, run_job
from solvyd.protocol import BuildStatus, JobSpec, StepSpec, StepStatus

# Not copied into the workspace: version control internals and Solvyd's own state.
COPY_IGNORE = shutil.ignore_patterns(".git", ".solvyd", ".tools", ".venv", "__pycache__")
EXIT_CODES = {BuildStatus.SUCCESS: 0, BuildStatus.CANCELLED: 130, BuildStatus.ERROR: 1}
STEP_MARKS = {StepStatus.SUCCESS: Text("✓", style="green"), StepStatus.SKIPPED: Text("-", "dim")}
FAILED_MARK = Text("✗", style="red")


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - our own git arguments, no shell
            ["git", *args],  # noqa: S607 - the user's git, as their PATH finds it
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


class _PrintingObserver:
    """Prints each step's output, after a `[step]` column when the pipeline has several
    steps (they may run at once), and a line when a step starts and when it ends."""

    def __init__(self, spec: JobSpec) -> None:
        names = [step.name for step in spec.steps]
        self.lines = LineFormat.for_view(names if len(names) > 1 else None)

    async def step_started(self, step: StepSpec, started_at: datetime) -> None:
        console.print(f"── {step.name}", style="bold cyan")

    async def step_output(self, step: StepSpec, text: str) -> None:
        self.lines.write([{"text": text}], step.name)

    async def step_finished(self, step: StepSpec, result: StepResult) -> None:
        mark = STEP_MARKS.get(result.status, FAILED_MARK)
        took = ""
        if result.started_at and result.completed_at:
            took = f" in {(result.completed_at - result.started_at).total_seconds():.1f}s"
        detail = f" (exit {result.exit_code})" if result.status is StepStatus.FAILURE else ""
        if result.error_message and result.status is not StepStatus.FAILURE:
            detail = f": {result.error_message}"
        console.print(mark, f"{step.name} {result.status}{detail}{took}")


def plan_local_run(path: Path, source: Path, only_step: str | None) -> JobSpec:
    try:
        config = parse_pipeline(path.read_text(), filename=str(path))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except PipelineError as exc:
        raise CliError(str(exc)) from None
    spec = plan_job(
        config,
        BuildContext(
            build_id=uuid.uuid4(),
            build_number=0,
            job_id=uuid.uuid4(),
            job_name=source.resolve().name,
            branch=_git(["rev-parse", "--abbrev-ref", "HEAD"], source),
            commit_sha=_git(["rev-parse", "HEAD"], source),
        ),
    )
    if only_step is None:
        return spec
    chosen = [s for s in spec.steps if s.name == only_step]
    if not chosen:
        names = ", ".join(s.name for s in spec.steps)
        raise CliError(f"no step named {only_step!r} in {path} (steps: {names})")
    return spec.model_copy(update={"steps": [chosen[0].model_copy(update={"depends_on": []})]})


class _WithSources(WrappingExecutor):
    """The executor `exec` runs with, whose `setup_job` also copies the sources into the new
    workspace: a directory of this machine (`exec` runs only the executors that have one,
    `host_workspace`), where an agent's build would have had its checkout step."""

    def __init__(self, inner: Executor, source: Path) -> None:
        super().__init__(inner)
        self.source = source

    async def setup_job(self, job: JobSpec) -> None:
        await self.inner.setup_job(job)
        workspace = host_workspace(self.inner, job)
        if workspace is None:
            raise ExecutorError(f"the {self.name} executor has no workspace on this machine")
        try:
            await asyncio.to_thread(
                shutil.copytree, self.source, workspace, ignore=COPY_IGNORE, dirs_exist_ok=True
            )
        except OSError as exc:
            raise ExecutorError(f"cannot copy {self.source} into the workspace: {exc}") from exc


async def _run(spec: JobSpec, executor: Executor, source: Path, keep: KeepOutputs) -> JobResult:
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, cancel.set)
    return await run_job(
        spec,
        _WithSources(executor, source),
        _PrintingObserver(spec),
        cancel,
        after_steps=keep.after_steps,
    )


def exec_pipeline(
    file: Path = typer.Argument(Path(".solvyd.yml"), help="The pipeline file."),
    executor_name: str = typer.Option("local", "--executor", help="local or docker"),
    step: str | None = typer.Option(None, "--step", help="Run only this step."),
    source: Path = typer.Option(
        Path("."), "--source", help="Directory copied into the workspace (default: here)."
    ),
    artifacts_dir: Path | None = typer.Option(
        None,
        "--artifacts-dir",
        help="Copy the files the pipeline declares as artifacts here when it ends.",
    ),
    keep_workspace: bool = typer.Option(
        False, "--keep-workspace", help="Keep the workspace when the run ends, and say where."
    ),
    default_image: str | None = typer.Option(
        None,
        "--default-image",
        envvar="SOLVYD_DEFAULT_IMAGE",
        help="Docker executor: the image of steps that name none.",
    ),
    env_passthrough: str = env_passthrough_option(),
) -> None:
    """Run a pipeline here, without a server, exactly as an agent would."""
    passthrough = env_passthrough_names(env_passthrough)
    spec = plan_local_run(file, source, step)
    with tempfile.TemporaryDirectory(prefix="solvyd-exec-") as work_root:
        try:
            executor = create_executor(
                executor_name,
                Path(work_root),
                default_image=(default_image or "").strip() or None,
                env_passthrough=passthrough,
            )
        except ExecutorError as exc:
            raise CliError(str(exc)) from None
        problem = asyncio.run(executor.check_available())
        if problem is not None:
            raise CliError(f"the {executor_name} executor is not available: {problem}")
        keep = KeepOutputs(spec, executor, artifacts_dir, keep_workspace)
        result = asyncio.run(_run(spec, executor, source, keep))
    summary = f"pipeline {result.status}"
    if result.error_message and result.status is not BuildStatus.CANCELLED:
        summary += f": {result.error_message}"
    err_console.print(summary)
    code = EXIT_CODES.get(result.status)
    raise typer.Exit(code if code is not None else (result.exit_code or 1))
