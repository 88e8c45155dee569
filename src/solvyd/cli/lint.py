"""`solvyd lint`: check a pipeline file without running it or asking a server."""

from pathlib import Path

import typer

from solvyd.cli.errors import CliError
from solvyd.cli.output import console, err_console
from solvyd.pipeline.config import PipelineConfig, PipelineError, check_pipeline, expand_steps
from solvyd.pipeline.config.errors import render_report


def summary(path: str, config: PipelineConfig, warnings: int = 0) -> str:
    """One line: how many steps the build has once the matrices are expanded."""
    expanded = len(expand_steps(config))
    written = len(config.steps)
    detail = f" ({written} in the file, matrix expanded)" if expanded != written else ""
    plural = "" if expanded == 1 else "s"
    warned = f", {_count(warnings, 'warning')}" if warnings else ""
    return f"{path}: ok, {expanded} step{plural}{detail}{warned}"


def lint(
    path: Path = typer.Argument(Path(".solvyd.yml"), help="The pipeline file to check."),
    strict: bool = typer.Option(
        False, "--strict", help="Fail (exit 1) on warnings too, not only on errors."
    ),
) -> None:
    """Check a pipeline file: print every problem and warning as file:line:col: field: message,
    with the line and a caret under the column. Exit 1 on errors (and warnings with --strict)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        checked = check_pipeline(text, filename=str(path))
    except PipelineError as exc:
        for line in render_report(str(path), text, exc.errors, exc.warnings):
            err_console.out(line, highlight=False)
        found = _count(len(exc.errors), "problem")
        if exc.warnings:
            found += f" and {_count(len(exc.warnings), 'warning')}"
        raise CliError(f"{found} in {path}") from None
    for line in render_report(str(path), text, [], checked.warnings):
        err_console.out(line, highlight=False)
    console.out(summary(str(path), checked.config, len(checked.warnings)), highlight=False)
    if strict and checked.warnings:
        raise CliError(f"{_count(len(checked.warnings), 'warning')} in {path} (--strict)")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
