"""Naming a build as the UI shows it: `hello#12` (the job and the build's number), `hello`
(the job's newest build), or the build's id; and choosing its steps by name, where the base
name of a matrix step (`test`) stands for all its cells (`test (PY=3.12)`...)."""

import uuid
from typing import Any

from solvyd.cli.api_client import ApiClient
from solvyd.cli.errors import CliError
from solvyd.protocol import CHECKOUT_STEP

BUILD_HELP = "JOB#NUMBER, JOB (its newest build) or the build's id."


def resolve_build(client: ApiClient, ref: str) -> dict[str, Any]:
    """The build `ref` names, as `GET /builds/{id}` answers it."""
    try:
        build_id = uuid.UUID(ref)
    except ValueError:
        pass
    else:
        return dict(client.get(f"/builds/{build_id}"))
    name, hash_sign, number = ref.rpartition("#")
    if not hash_sign:
        job = client.resolve_job(ref)
        found = client.get("/builds", params={"job_id": job["id"], "limit": 1})["items"]
        if not found:
            raise CliError(f"job {job['name']} has no builds yet")
    else:
        if not name or not number.isdigit() or not 0 < int(number) < 2**31:
            raise CliError(f"{ref!r} names no build: use {BUILD_HELP}")
        job = client.resolve_job(name)
        params = {"job_id": job["id"], "number": int(number), "limit": 1}
        found = client.get("/builds", params=params)["items"]
        if not found:
            raise CliError(f"job {job['name']} has no build #{number}")
    return dict(client.get(f"/builds/{found[0]['id']}"))


def build_label(build: dict[str, Any]) -> str:
    return f"{build.get('job_name') or build['job_id']}#{build['number']}"


def matrix_cells(base: str, names: list[str]) -> list[str]:
    # The cells of a matrix step are named `base (KEY=value, ...)` (pipeline.config.matrix).
    return [name for name in names if name.startswith(base + " (")]


def select_steps(build: dict[str, Any], name: str) -> list[str]:
    """The steps of `build` that `--step name` means: that step, or a matrix step's cells."""
    names = [step["name"] for step in build["steps"]]
    if name in names:
        return [name]
    cells = matrix_cells(name, names)
    if cells:
        return cells
    if build["status"] in ("queued", "running") and set(names) <= {CHECKOUT_STEP}:
        # A pipeline read from the repository is planned after the checkout: its steps are
        # not known yet, so the name is taken as it is.
        return [name]
    listed = ", ".join(names) if names else "none"
    raise CliError(f"build {build_label(build)} has no step {name!r} (its steps: {listed})")
