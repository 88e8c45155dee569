"""`--step NAME`: a step by its name, a matrix step's cells by their base name, and an
unknown name refused with the build's steps listed."""

from typing import Any

import pytest

from solvyd.cli.build_ref import select_steps
from solvyd.cli.errors import CliError
from solvyd.pipeline.config import parse_pipeline
from solvyd.pipeline.config.matrix import expand_steps

PIPELINE = """
steps:
  - name: lint
    commands: [ruff check]
  - name: test
    matrix:
      PY: ["3.10", "3.12"]
    commands: [pytest]
  - name: tests-slow
    commands: [pytest -m slow]
"""


def _build(status: str) -> dict[str, Any]:
    # The cells named as the planner names them.
    names = [step.name for step in expand_steps(parse_pipeline(PIPELINE))]
    return {
        "job_name": "lib",
        "job_id": "x",
        "number": 3,
        "status": status,
        "steps": [{"name": name} for name in names],
    }


def test_the_base_name_of_a_matrix_step_selects_its_cells() -> None:
    cells = select_steps(_build("success"), "test")
    assert len(cells) == 2 and all(cell.startswith("test") for cell in cells)
    assert "tests-slow" not in cells
    assert select_steps(_build("success"), cells[1]) == [cells[1]]
    assert select_steps(_build("success"), "lint") == ["lint"]


def test_an_unknown_step_is_refused_with_the_steps_listed() -> None:
    with pytest.raises(CliError) as refused:
        select_steps(_build("failure"), "tset")
    assert "build lib#3 has no step 'tset'" in refused.value.message
    assert "lint, test (PY=3.10), test (PY=3.12), tests-slow" in refused.value.message


def test_a_step_of_a_pipeline_not_read_yet_is_taken_as_named() -> None:
    checking_out = {"job_name": "lib", "number": 4, "status": "running"}
    checking_out["steps"] = [{"name": "checkout"}]
    assert select_steps(checking_out, "test") == ["test"]
    with pytest.raises(CliError):
        select_steps(_build("running"), "tset")
