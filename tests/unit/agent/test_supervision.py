"""The supervisor of the agent's loops: what a dying loop becomes, and what its log line
says (never a secret, never a value of the answer that killed it)."""

import asyncio
import re

import pytest
from pydantic import ValidationError

from solvyd.agent.supervision import LoopDied, describe, supervised
from solvyd.protocol import HeartbeatReply


async def _loop_that_breaks(after: int, error: Exception) -> None:
    for tick in range(after + 1):
        if tick == after:
            raise error
        await asyncio.sleep(0)


async def test_an_unexpected_exception_is_the_loop_s_death() -> None:
    with pytest.raises(LoopDied) as died:
        await supervised("heartbeat", _loop_that_breaks(3, KeyError("has_work")))
    assert died.value.loop == "heartbeat"
    assert str(died.value) == "the agent's heartbeat loop died"
    assert re.fullmatch(
        r"KeyError: 'has_work' \(at test_supervision\.py:\d+ in _loop_that_breaks\)",
        died.value.describe(),
    )


async def test_cancelling_a_loop_is_no_death() -> None:
    task = asyncio.create_task(supervised("claim", asyncio.sleep(60)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_loop_that_ends_by_itself_is_no_death() -> None:
    await supervised("cancel watcher", asyncio.sleep(0))


def test_the_description_leaves_out_inputs_and_secrets() -> None:
    with pytest.raises(ValidationError) as invalid:
        HeartbeatReply.model_validate_json(b'{"has_work": "token-abc123", "cancelled_builds": 7}')
    text = describe(invalid.value)
    assert text.startswith("HeartbeatReply is not valid (has_work: Input should be a valid")
    assert "cancelled_builds: Input should be a valid array" in text
    assert "token-abc123" not in text

    leaky = RuntimeError("request to http://server/?t=s3cr3t-token failed\nsecond line")
    assert describe(leaky, ["s3cr3t-token", ""]) == (
        "RuntimeError: request to http://server/?t=*** failed second line"
    )
    long = describe(ValueError("x" * 2000))
    assert len(long) == 500 and long.endswith("...")
