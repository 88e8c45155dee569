"""The pipeline language as pydantic models.

Every model forbids unknown fields: in a file people type by hand, a misspelt key must be an
error, not a setting silently ignored. New keys (``depends_on``, ``matrix``, ``when`` ...) are
added as optional fields, so the pipelines written today stay valid.
"""

import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

# Step names appear in URLs (PUT /builds/{id}/steps/{name}) and in log headers.
_STEP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_. -]{0,99}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?"
)
# A bound keeps every timeout a number asyncio can sleep on.
MAX_TIMEOUT_SECONDS = 30 * 24 * 3600.0


def parse_duration(value: Any) -> Any:
    """Seconds as a number, or a string like ``"90"``, ``"90s"``, ``"10m"``, ``"1h30m"``."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.replace(" ", "")
        match = _DURATION.fullmatch(text)
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text and match:
            hours, minutes, secs = (float(match[unit] or 0) for unit in ("h", "m", "s"))
            seconds = hours * 3600 + minutes * 60 + secs
    if seconds is None:
        raise PydanticCustomError(
            "duration",
            "expected seconds or a duration like '90s', '10m' or '1h', got {value}",
            {"value": repr(value)},
        )
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_TIMEOUT_SECONDS:
        raise PydanticCustomError(
            "duration_range", "a timeout must be more than 0 and at most 30 days"
        )
    return seconds


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _at_least_one_command(commands: list[str]) -> list[str]:
    if not commands:
        raise PydanticCustomError("no_commands", "at least one command is required")
    return commands


def _env_values_as_text(value: Any) -> Any:
    # `DEBUG: 1` or `FAST: true` in YAML are numbers and booleans; the environment only has text.
    if not isinstance(value, dict):
        return value
    converted: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            converted[key] = "true" if item else "false"
        elif isinstance(item, int | float):
            converted[key] = str(item)
        else:
            converted[key] = item
    return converted


def _check_env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise PydanticCustomError(
            "env_name",
            "'{name}' is not a valid variable name (letters, digits and '_', not starting "
            "with a digit)",
            {"name": name},
        )
    return name


def _check_step_name(name: str) -> str:
    if not _STEP_NAME.fullmatch(name):
        raise PydanticCustomError(
            "step_name",
            "a step name has 1 to 100 letters, digits, spaces, '_', '.' or '-', and does not "
            "start with a space, '.' or '-'",
        )
    return name


Duration = Annotated[float, BeforeValidator(parse_duration)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
Env = Annotated[dict[EnvName, str], BeforeValidator(_env_values_as_text)]
Commands = Annotated[
    list[str], BeforeValidator(_one_or_many), AfterValidator(_at_least_one_command)
]
Patterns = Annotated[list[str], BeforeValidator(_one_or_many)]
Image = Annotated[str, Field(min_length=1)]
StepName = Annotated[str, AfterValidator(_check_step_name)]


class _ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepConfig(_ConfigModel):
    name: StepName
    image: Image | None = None
    commands: Commands
    env: Env = Field(default_factory=dict)
    timeout: Duration | None = None
    allow_failure: bool = False


class PipelineConfig(_ConfigModel):
    image: Image | None = None
    env: Env = Field(default_factory=dict)
    steps: list[StepConfig]
    timeout: Duration | None = None
    artifacts: Patterns = Field(default_factory=list)

    @field_validator("steps")
    @classmethod
    def _steps_named_once(cls, steps: list[StepConfig]) -> list[StepConfig]:
        if not steps:
            raise PydanticCustomError("no_steps", "a pipeline needs at least one step")
        first_index: dict[str, int] = {}
        for index, step in enumerate(steps):
            if step.name in first_index:
                # `index` lets the parser point at the repeated name rather than at `steps:`.
                raise PydanticCustomError(
                    "duplicate_step_name",
                    "step name '{name}' is already used by steps[{first}]",
                    {"name": step.name, "first": first_index[step.name], "index": index},
                )
            first_index[step.name] = index
        return steps


class BuildConfigForm(_ConfigModel):
    """The seed's ``build_config``: one list of commands, run as a single step named ``build``."""

    image: Image | None = None
    commands: Commands
    env: Env = Field(default_factory=dict)
    timeout: Duration | None = None
    artifacts: Patterns = Field(default_factory=list)

    def to_pipeline(self) -> PipelineConfig:
        return PipelineConfig(
            image=self.image,
            env=self.env,
            timeout=self.timeout,
            artifacts=self.artifacts,
            steps=[StepConfig(name="build", commands=self.commands)],
        )
