"""The ``.solvyd.yml`` language: models, the parser, and errors that point at a line and column."""

from solvyd.pipeline.config.errors import PipelineError, PipelineErrorItem
from solvyd.pipeline.config.models import PipelineConfig, StepConfig
from solvyd.pipeline.config.parser import parse_pipeline

__all__ = [
    "PipelineConfig",
    "PipelineError",
    "PipelineErrorItem",
    "StepConfig",
    "parse_pipeline",
]
