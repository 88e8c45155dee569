"""`solvyd lint`: check a pipeline file without running it or asking a server."""

from pathlib import Path

import typer

from solvyd.cli.errors import CliError
from solvyd.cli.output import console, err_console
from solvyd.pipeline.config import PipelineConfig, PipelineError, expand_steps, parse_pipeline


def summary(path: str, config: PipelineConfig) -> str:
    """One line: how many steps the build has once the matrices are expanded."""
    expanded = len(expand_steps(config))
    written = len(config.steps)
    detail = f" ({written} in the file, matrix expanded)" if expanded != written else ""
    plural = "" if expanded == 1 else "s"
    return f"{path}: ok, {expanded} step{plural}{detail}"


def lint(
    path: Path = typer.Argument(Path(".solvyd.yml"), help="The pipeline file to check."),
) -> None:
    """Check a pipeline file: print each problem as file:line:col: field: message."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        config = parse_pipeline(text, filename=str(path))
    except PipelineError as exc:
        for item in exc.errors:
            err_console.out(item.describe(str(path)), highlight=False)
        count = len(exc.errors)
        raise CliError(f"{count} problem{'' if count == 1 else 's'} in {path}") from None
    console.out(summary(str(path), config), highlight=False)
