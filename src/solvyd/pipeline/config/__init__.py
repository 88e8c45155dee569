"""The ``.solvyd.yml`` language: models, the parser, and errors that point at a line and column."""

from solvyd.pipeline.config.errors import PipelineError, PipelineErrorItem
from solvyd.pipeline.config.matrix import ExpandedStep, expand_steps
from solvyd.pipeline.config.models import (
    MatrixConfig,
    PipelineConfig,
    ResourcesConfig,
    StepConfig,
    WhenConfig,
)
from solvyd.pipeline.config.parser import CheckedPipeline, check_pipeline, parse_pipeline

__all__ = [
    "CheckedPipeline",
    "ExpandedStep",
    "MatrixConfig",
    "PipelineConfig",
    "PipelineError",
    "PipelineErrorItem",
    "ResourcesConfig",
    "StepConfig",
    "WhenConfig",
    "check_pipeline",
    "expand_steps",
    "parse_pipeline",
]
