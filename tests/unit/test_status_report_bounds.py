"""A worker's status report is the network's text: a duration that is not a number (NaN,
infinity) would poison the build's record and the duration histogram (`NaN` in its sum)."""

import pytest
from pydantic import ValidationError

from solvyd.protocol import BuildStatusUpdate


@pytest.mark.parametrize("duration", ["NaN", "Infinity", "-Infinity"])
def test_a_duration_that_is_no_number_is_refused(duration: str) -> None:
    with pytest.raises(ValidationError):
        BuildStatusUpdate.model_validate_json(
            f'{{"status": "success", "duration_seconds": {duration}}}'
        )


def test_a_real_duration_is_taken() -> None:
    update = BuildStatusUpdate.model_validate_json('{"status": "success", "duration_seconds": 1.5}')
    assert update.duration_seconds == 1.5
