"""LogBatcher: seq-numbered batches, sealed on a step change, on size, or on demand."""

import itertools
import random

from solvyd.agent.log_shipper import LogBatcher
from solvyd.protocol import LogBatch


def _drain(batcher: LogBatcher, lines: list[tuple[str | None, str]]) -> list[LogBatch]:
    batches = [b for step, text in lines if (b := batcher.add(step, text)) is not None]
    last = batcher.seal()
    if last is not None:
        batches.append(last)
    return batches


def test_seal_on_empty_returns_none() -> None:
    batcher = LogBatcher()
    assert batcher.seal() is None
    assert batcher.pending_bytes == 0


def test_seal_after_seal_returns_none_and_does_not_use_a_seq() -> None:
    batcher = LogBatcher()
    batcher.add("build", "one")
    first = batcher.seal()
    assert first is not None
    assert batcher.seal() is None
    batcher.add("build", "two")
    second = batcher.seal()
    assert second is not None
    assert (first.seq, second.seq) == (0, 1)


def test_lines_of_one_step_stay_in_one_batch_until_sealed() -> None:
    batcher = LogBatcher()
    assert batcher.add("build", "a") is None
    assert batcher.add("build", "b") is None
    assert batcher.pending_bytes == 4
    batch = batcher.seal()
    assert batch is not None
    assert batch.seq == 0
    assert batch.step == "build"
    assert [line.text for line in batch.lines] == ["a", "b"]
    assert all(line.ts is not None for line in batch.lines)
    assert batcher.pending_bytes == 0


def test_a_step_change_seals_the_batch() -> None:
    batcher = LogBatcher()
    batcher.add("build", "compiling")
    sealed = batcher.add("test", "testing")
    assert sealed is not None
    assert sealed.step == "build"
    assert [line.text for line in sealed.lines] == ["compiling"]
    rest = batcher.seal()
    assert rest is not None
    assert rest.step == "test"
    assert [line.text for line in rest.lines] == ["testing"]
    assert (sealed.seq, rest.seq) == (0, 1)


def test_a_change_from_no_step_to_a_step_seals() -> None:
    batcher = LogBatcher()
    batcher.add(None, "preparing workspace")
    sealed = batcher.add("build", "go")
    assert sealed is not None
    assert sealed.step is None


def test_the_size_limit_seals() -> None:
    batcher = LogBatcher(max_batch_bytes=10)
    assert batcher.add("build", "1234") is None  # 5 bytes with its newline
    sealed = batcher.add("build", "5678")  # 10 bytes: the limit
    assert sealed is not None
    assert [line.text for line in sealed.lines] == ["1234", "5678"]
    assert batcher.pending_bytes == 0
    assert batcher.seal() is None


def test_a_line_over_the_limit_is_sealed_alone() -> None:
    batcher = LogBatcher(max_batch_bytes=10)
    sealed = batcher.add("build", "x" * 50)
    assert sealed is not None
    assert [line.text for line in sealed.lines] == ["x" * 50]


def test_seq_numbers_increase_by_one_with_no_gaps() -> None:
    batcher = LogBatcher(max_batch_bytes=32)
    lines = [(f"step{i // 7}", f"line {i}") for i in range(200)]
    batches = _drain(batcher, lines)
    assert len(batches) > 10
    assert [b.seq for b in batches] == list(range(len(batches)))


def test_every_line_comes_out_exactly_once_in_order() -> None:
    rng = random.Random(1234)
    steps = [None, "checkout", "build", "test", "deploy"]
    lines: list[tuple[str | None, str]] = []
    step: str | None = None
    for i in range(2000):
        if rng.random() < 0.05:
            step = rng.choice(steps)
        lines.append((step, f"{i}:" + "z" * rng.randint(0, 120)))
    batches = _drain(LogBatcher(max_batch_bytes=512), lines)

    out = [(b.step, line.text) for b in batches for line in b.lines]
    assert out == lines
    assert [b.seq for b in batches] == list(range(len(batches)))
    assert all(b.lines for b in batches)
    # A batch never mixes steps (the step is a property of the whole batch), and adjacent
    # batches of the same step exist only because the size limit sealed the first.
    for before, after in itertools.pairwise(batches):
        if before.step == after.step:
            assert sum(len(line.text) + 1 for line in before.lines) >= 512


def test_the_size_limit_counts_bytes_not_characters() -> None:
    batcher = LogBatcher(max_batch_bytes=16)
    assert batcher.add("build", "éééé") is None  # 8 bytes + newline
    assert batcher.add("build", "éééé") is not None  # 18 bytes: over the limit
