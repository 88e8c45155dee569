"""Matrix expansion: one step per combination of the matrix values.

A step's own ``matrix`` makes one copy of the step per combination, named
``name (A=1, B=x)`` with those variables in its env. The pipeline's ``matrix`` makes one copy of
the whole pipeline per combination; a ``depends_on`` then points at the steps of the same
combination. Both may be used together. A ``depends_on`` naming a step that has a matrix waits
for every copy of it (within the same pipeline combination).
"""

from dataclasses import dataclass, field

from solvyd.pipeline.config.models import PipelineConfig, StepConfig

# A matrix whose product is larger is refused before it is enumerated.
MAX_MATRIX_PRODUCT = 4096


@dataclass(frozen=True)
class ExpandedStep:
    """One step of the build after expansion."""

    name: str
    config: StepConfig
    index: int  # of the step in ``PipelineConfig.steps``
    matrix_env: dict[str, str] = field(default_factory=dict)
    # The other expanded steps (by name) this one waits for, from the file's ``depends_on``.
    depends_on: list[str] = field(default_factory=list)
    # Which copy of the whole pipeline this step belongs to (0 without a pipeline matrix).
    group: int = 0


def combination_name(name: str, values: dict[str, str]) -> str:
    if not values:
        return name
    return f"{name} ({', '.join(f'{key}={value}' for key, value in values.items())})"


def expand_steps(config: PipelineConfig) -> list[ExpandedStep]:
    """Every step of the pipeline after both kinds of matrix, in file order within each
    pipeline combination. The matrices must have been checked (the parser does)."""
    outer = config.matrix.combinations() if config.matrix is not None else [{}]
    expanded: list[ExpandedStep] = []
    for group, outer_values in enumerate(outer):
        copies: dict[str, list[str]] = {}
        planned: list[tuple[StepConfig, int, dict[str, str], str]] = []
        for index, step in enumerate(config.steps):
            inner = step.matrix.combinations() if step.matrix is not None else [{}]
            for inner_values in inner:
                values = {**outer_values, **inner_values}
                name = combination_name(step.name, values)
                copies.setdefault(step.name, []).append(name)
                planned.append((step, index, values, name))
        for step, index, values, name in planned:
            depends_on = [
                copy for dependency in step.depends_on or [] for copy in copies.get(dependency, [])
            ]
            expanded.append(ExpandedStep(name, step, index, values, depends_on, group))
    return expanded
