"""Checking a pipeline without storing or running it: what `solvyd lint` says, for the UI's
editor."""

import asyncio

from solvyd.pipeline.config import PipelineError, PipelineErrorItem, check_pipeline, expand_steps
from solvyd.server.schemas.pipelines import PipelineProblem, PipelineValidation


async def validate_pipeline(text: str) -> PipelineValidation:
    # Parsing is pure CPU work on up to the request body limit of text: in a thread, so the
    # event loop goes on serving everyone else meanwhile.
    return await asyncio.to_thread(_validate, text)


def _validate(text: str) -> PipelineValidation:
    try:
        checked = check_pipeline(text)
    except PipelineError as exc:
        return PipelineValidation(
            valid=False, steps=0, errors=_problems(exc.errors), warnings=_problems(exc.warnings)
        )
    return PipelineValidation(
        valid=True,
        steps=len(expand_steps(checked.config)),
        errors=[],
        warnings=_problems(checked.warnings),
    )


def _problems(items: list[PipelineErrorItem]) -> list[PipelineProblem]:
    return [
        PipelineProblem(line=e.line, column=e.column, field=e.field, message=e.message)
        for e in items
    ]
