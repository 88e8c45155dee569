"""The pipeline language as pydantic models.

Every model forbids unknown fields: in a file people type by hand, a misspelt key must be an
error, not a setting silently ignored. New keys (``depends_on``, ``matrix``, ``when`` ...) are
added as optional fields, so the pipelines written today stay valid.
"""

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from solvyd.protocol.messages import (
    ENVIRONMENT_NAME_PATTERN,
    KUBERNETES_NAME_PATTERN,
    is_base_step_name,
)

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
    if not is_base_step_name(name):
        raise PydanticCustomError(
            "step_name",
            "a step name has 1 to 100 letters, digits, spaces, '_', '.' or '-', and does not "
            "start with a space, '.' or '-'",
        )
    return name


_MEMORY = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[kmgt]?)(?:i?b)?", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
MAX_MEMORY_BYTES = 1024**5  # a petabyte: far beyond any machine, and still an exact integer


def parse_memory(value: Any) -> Any:
    """Bytes as an integer, or a string like ``"512m"``, ``"2g"``, ``"1.5G"``, ``"256MiB"``
    (binary units, as Docker and Kubernetes read them)."""
    size: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = float(value)
    elif isinstance(value, str):
        match = _MEMORY.fullmatch(value.strip())
        if match:
            size = float(match["n"]) * _MEMORY_UNITS[match["unit"].lower()]
    if size is None:
        raise PydanticCustomError(
            "memory",
            "expected bytes or a size like '512m' or '2g', got {value}",
            {"value": repr(value)},
        )
    if not 0 < size <= MAX_MEMORY_BYTES:
        raise PydanticCustomError("memory_range", "a memory limit must be more than 0 bytes")
    return int(size)


def _check_cpus(value: float) -> float:
    if not math.isfinite(value) or value <= 0 or value > 1024:
        raise PydanticCustomError("cpus", "cpus must be more than 0 and at most 1024")
    return value


def _matrix_value_as_text(value: Any) -> Any:
    # `PY: [3.11, 3.12]` reads as numbers; a matrix value ends up in the environment as text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _non_empty_axis(values: list[str]) -> list[str]:
    if not values:
        raise PydanticCustomError("empty_axis", "a matrix axis needs at least one value")
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise PydanticCustomError(
            "repeated_value", "value {value} is listed twice", {"value": repr(repeated[0])}
        )
    return values


def _non_empty_combination(values: dict[str, str]) -> dict[str, str]:
    if not values:
        raise PydanticCustomError("empty_combination", "an entry needs at least one variable")
    return values


Duration = Annotated[float, BeforeValidator(parse_duration)]
Memory = Annotated[int, BeforeValidator(parse_memory)]
Cpus = Annotated[float, AfterValidator(_check_cpus)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
Env = Annotated[dict[EnvName, str], BeforeValidator(_env_values_as_text)]
Commands = Annotated[
    list[str], BeforeValidator(_one_or_many), AfterValidator(_at_least_one_command)
]
Patterns = Annotated[list[str], BeforeValidator(_one_or_many)]
Image = Annotated[str, Field(min_length=1)]
Label = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w.:/=\-]+$")]
StepName = Annotated[str, AfterValidator(_check_step_name)]
MatrixValue = Annotated[str, BeforeValidator(_matrix_value_as_text)]
MatrixAxis = Annotated[list[MatrixValue], AfterValidator(_non_empty_axis)]
Combination = Annotated[dict[EnvName, MatrixValue], AfterValidator(_non_empty_combination)]
Event = Literal["push", "pull_request", "tag", "manual", "cron"]
Outcome = Literal["success", "failure"]
EVENTS: tuple[str, ...] = ("push", "pull_request", "tag", "manual", "cron")
# The most steps one build may have once its matrices are expanded.
MAX_EXPANDED_STEPS = 256


class _ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatrixConfig(_ConfigModel):
    """``{VAR: [values...], ..., include: [{VAR: v}], exclude: [{VAR: v}]}``.

    Written as one mapping in the file; held here with the axes apart from ``include`` and
    ``exclude``, and dumped back in the file's shape."""

    axes: dict[EnvName, MatrixAxis] = Field(default_factory=dict)
    include: list[Combination] = Field(default_factory=list)
    exclude: list[Combination] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_file_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if isinstance(data.get("axes"), dict):  # already in this shape (built in Python)
            return data
        axes = {k: v for k, v in data.items() if k not in ("include", "exclude")}
        shaped: dict[str, Any] = {"axes": axes}
        for key in ("include", "exclude"):
            if key in data:
                shaped[key] = data[key]
        return shaped

    @model_serializer(mode="plain")
    def _to_file_shape(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: list(values) for name, values in self.axes.items()}
        if self.include:
            data["include"] = [dict(entry) for entry in self.include]
        if self.exclude:
            data["exclude"] = [dict(entry) for entry in self.exclude]
        return data

    def combinations(self) -> list[dict[str, str]]:
        """The cartesian product of the axes, minus ``exclude`` (an entry removes every
        combination that has all its values), plus ``include`` (each a combination of its own,
        unless already there). Call ``size_bound`` first: the product may be huge."""
        combos: list[dict[str, str]] = [{}] if self.axes else []
        for name, values in self.axes.items():
            combos = [{**combo, name: value} for combo in combos for value in values]
        combos = [
            combo
            for combo in combos
            if not any(all(combo.get(k) == v for k, v in entry.items()) for entry in self.exclude)
        ]
        for entry in self.include:
            if entry not in combos:
                combos.append(dict(entry))
        return combos

    def size_bound(self) -> int:
        product = 1 if self.axes else 0
        for values in self.axes.values():
            product *= len(values)
        return product + len(self.include)


class WhenConfig(_ConfigModel):
    """Conditions on a step: ``branch`` and ``event`` are decided when the build is planned,
    ``status`` (which outcome of the build so far lets it run) when it runs."""

    branch: Patterns | None = None
    event: Annotated[list[Event], BeforeValidator(_one_or_many)] | None = None
    status: Annotated[list[Outcome], BeforeValidator(_one_or_many)] | None = None

    @field_validator("branch", "event", "status")
    @classmethod
    def _not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise PydanticCustomError("empty_condition", "give at least one value, or leave it out")
        return value


class ResourcesConfig(_ConfigModel):
    cpus: Cpus | None = None
    memory: Memory | None = None


# What the language takes of a Kubernetes object's name and an environment's (the protocol's
# patterns, which the server checks again).
_ENVIRONMENT = Annotated[str, Field(pattern=ENVIRONMENT_NAME_PATTERN, max_length=63)]
_KUBE_NAME = Annotated[str, Field(pattern=KUBERNETES_NAME_PATTERN, max_length=253)]


class KubernetesDeployConfig(_ConfigModel):
    """``deploy.kubernetes``: the server sets ``image`` on a container of a Deployment and
    waits for its rollout. ``image`` may use the build's variables (``${SOLVYD_COMMIT_SHA}``)."""

    namespace: Annotated[str, Field(pattern=KUBERNETES_NAME_PATTERN, max_length=63)]
    deployment: _KUBE_NAME
    container: Annotated[str, Field(pattern=KUBERNETES_NAME_PATTERN, max_length=63)] | None = None
    image: Annotated[str, Field(min_length=1, max_length=1000)]


class DeployConfig(_ConfigModel):
    """``deploy:`` on a step: see ``protocol.messages.DeploySpec``."""

    environment: _ENVIRONMENT
    approval: Literal["required"] | None = None
    rollback: Literal["auto", "manual"] = "manual"
    version: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    kubernetes: KubernetesDeployConfig | None = None
    # At most a day (the protocol's bound), like any wait the server holds for a deploy.
    rollout_timeout: Annotated[Duration, Field(le=86400)] | None = None

    @model_validator(mode="after")
    def _auto_rollback_needs_a_target(self) -> "DeployConfig":
        if self.rollback == "auto" and self.kubernetes is None:
            raise PydanticCustomError(
                "at_field",
                "'rollback: auto' needs a 'kubernetes' target: only the server's own rollout "
                "can be rolled back",
                {"field": "rollback"},
            )
        return self


class StepConfig(_ConfigModel):
    name: StepName
    image: Image | None = None
    # Required, except on a step that deploys with the built-in `kubernetes` target, which
    # takes none (the server performs it).
    commands: Commands | None = None
    env: Env = Field(default_factory=dict)
    timeout: Duration | None = None
    allow_failure: bool = False
    # None: not given. A pipeline where no step gives it runs its steps in the order listed.
    depends_on: Annotated[list[StepName], BeforeValidator(_one_or_many)] | None = None
    when: WhenConfig | None = None
    artifacts: Patterns = Field(default_factory=list)
    secrets: Annotated[list[EnvName], BeforeValidator(_one_or_many)] = Field(default_factory=list)
    resources: ResourcesConfig | None = None
    matrix: MatrixConfig | None = None
    deploy: DeployConfig | None = None

    @model_validator(mode="after")
    def _commands_unless_the_server_deploys(self) -> "StepConfig":
        server_deploys = self.deploy is not None and self.deploy.kubernetes is not None
        if server_deploys and self.commands is not None:
            raise PydanticCustomError(
                "at_field",
                "a step that deploys with 'kubernetes' has no commands: the server rolls the "
                "image out (use a step without 'kubernetes' to deploy with a script)",
                {"field": "commands"},
            )
        if not server_deploys and self.commands is None:
            raise PydanticCustomError("at_field", "field required", {"field": "commands"})
        return self


class PipelineConfig(_ConfigModel):
    image: Image | None = None
    env: Env = Field(default_factory=dict)
    steps: list[StepConfig]
    timeout: Duration | None = None
    artifacts: Patterns = Field(default_factory=list)
    matrix: MatrixConfig | None = None
    # Only agents with all of these labels (and the job's) run the build.
    labels: Annotated[list[Label], BeforeValidator(_one_or_many)] = Field(default_factory=list)
    # Environment variables whose values are secret: replaced by *** wherever the log shows them.
    mask: Annotated[list[EnvName], BeforeValidator(_one_or_many)] = Field(default_factory=list)

    @property
    def sequential(self) -> bool:
        """No step says what it depends on: the steps run one after the other, as listed."""
        return not any(step.depends_on for step in self.steps)

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
