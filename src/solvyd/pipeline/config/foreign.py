"""Recognise a file written for another CI system, so its errors start with a hint.

Someone moving to Solvyd often tries their old file first. Its errors alone ("unknown field
'jobs'", "steps: field required") say nothing of why; a line naming the format does. Each
test below looks only at keys Solvyd's own format forbids at the top level, so a valid Solvyd
file can never be taken for another format (and the parser adds the hint only to errors).
"""

from collections.abc import Mapping
from typing import Any

SOLVYD_KEYS = frozenset(
    {"image", "env", "steps", "timeout", "artifacts", "matrix", "labels", "mask", "commands"}
)
DOCS = "docs/pipelines.md"


def foreign_format(data: Mapping[Any, Any]) -> tuple[str, str, str] | None:
    """(the format's name, the top-level key that gave it away, how to translate), or None."""
    keys = {key for key in data if isinstance(key, str) and key not in SOLVYD_KEYS}
    if "version" in data and ("workflows" in data or "orbs" in data or "jobs" in data):
        return ("a CircleCI config", "version", "each job's `run` steps become `commands`")
    # YAML 1.1 reads a bare `on:` key as the boolean true.
    if "jobs" in data and (True in data or "on" in data or _github_jobs(data["jobs"])):
        return (
            "a GitHub Actions workflow",
            "jobs",
            "each job's `run:` lines become a step's `commands`; `uses:` actions have no "
            "equivalent",
        )
    if data.get("kind") == "pipeline":
        return ("a Drone pipeline", "kind", "each step's `commands` carry over as they are")
    if isinstance(data.get("pipeline"), Mapping):
        return ("a Woodpecker pipeline", "pipeline", "write the steps as a list under `steps`")
    if isinstance(data.get("steps"), Mapping):
        return (
            "a Woodpecker pipeline",
            "steps",
            "`steps` is a list here: `- name: build` then its `commands`",
        )
    if "pipelines" in data:
        return ("a Bitbucket Pipelines file", "pipelines", "each `script` becomes `commands`")
    gitlab_jobs = [key for key in sorted(keys) if _has_script(data[key])]
    if "stages" in data or gitlab_jobs:
        return (
            "a GitLab CI file",
            "stages" if "stages" in data else gitlab_jobs[0],
            "each job's `script` becomes a step's `commands`; `needs` becomes `depends_on`",
        )
    if "language" in data and ("script" in data or "install" in data):
        return ("a Travis CI file", "language", "each `script` line becomes a command")
    return None


def hint_message(found: tuple[str, str, str]) -> str:
    name, _, translation = found
    return (
        f"this looks like {name}, which Solvyd does not read: a Solvyd pipeline is a list of "
        f"`steps`, each with a `name` and `commands` ({translation}); see {DOCS}"
    )


def _github_jobs(jobs: Any) -> bool:
    if not isinstance(jobs, Mapping):
        return False
    for job in jobs.values():
        if not isinstance(job, Mapping):
            continue
        if "runs-on" in job:
            return True
        steps = job.get("steps")
        if isinstance(steps, list) and any(
            isinstance(step, Mapping) and ("uses" in step or "run" in step) for step in steps
        ):
            return True
    return False


def _has_script(value: Any) -> bool:
    return isinstance(value, Mapping) and "script" in value
