"""Checking a pipeline without storing or running it: what `solvyd lint` says, for the UI's
editor."""

import asyncio

from solvyd.pipeline.config import PipelineError, expand_steps, parse_pipeline
from solvyd.server.schemas.pipelines import PipelineProblem, PipelineValidation


async def validate_pipeline(text: str) -> PipelineValidation:
    # Parsing is pure CPU work on up to the request body limit of text: in a thread, so the
    # event loop goes on serving everyone else meanwhile.
    return await asyncio.to_thread(_validate, text)


def _validate(text: str) -> PipelineValidation:
    try:
        config = parse_pipeline(text)
    except PipelineError as exc:
        problems = [
            PipelineProblem(line=e.line, column=e.column, field=e.field, message=e.message)
            for e in exc.errors
        ]
        return PipelineValidation(valid=False, steps=0, errors=problems)
    return PipelineValidation(valid=True, steps=len(expand_steps(config)), errors=[])
