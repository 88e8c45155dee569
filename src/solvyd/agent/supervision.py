"""The agent's long-lived loops under supervision: one that dies stops the agent, visibly.

A loop (heartbeat, claim, a build's cancel watcher) handles the errors it expects (the server
unreachable, a request refused) itself and goes on. Anything else is a fault this process
cannot reason about (an answer it cannot parse, a bug): carrying on would leave the agent
registered and idle, or a build deaf to its cancel, so the agent stops instead, with one log
line naming the loop and the error, and exits non-zero (see `worker.Agent.run`).
"""

import traceback
from collections.abc import Awaitable, Iterable
from pathlib import PurePath

from pydantic import ValidationError

# Enough of an error to act on, and no more: the line goes to the agent's log.
_MAX_DESCRIPTION = 500
_SHOWN_PROBLEMS = 3


class LoopDied(Exception):
    """A supervised loop ended by an unexpected exception."""

    def __init__(self, loop: str, error: Exception) -> None:
        super().__init__(f"the agent's {loop} loop died")
        self.loop = loop
        self.error = error

    def describe(self, secrets: Iterable[str] = ()) -> str:
        """Why, as `describe` puts it, and where it was raised."""
        where = _where(self.error)
        return describe(self.error, secrets) + (f" (at {where})" if where else "")


async def supervised(loop: str, work: Awaitable[None]) -> None:
    """Await `work`, the body of the loop named `loop`: an exception it did not handle comes
    out as `LoopDied`. Cancellation passes through untouched (that is how loops are stopped)."""
    try:
        await work
    except Exception as exc:
        raise LoopDied(loop, exc) from exc


def describe(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """One line about `error` that names no value from the network: a validation error's
    inputs (a server's answer may hold a build's secrets) are left out, and each of `secrets`
    (the agent's tokens) is masked wherever it appears."""
    if isinstance(error, ValidationError):
        found = error.errors(include_url=False, include_input=False, include_context=False)
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']) or '(body)'}: {problem['msg']}"
            for problem in found
        ]
        shown = "; ".join(problems[:_SHOWN_PROBLEMS])
        more = len(problems) - _SHOWN_PROBLEMS
        text = f"{error.title} is not valid ({shown}{f'; {more} more' if more > 0 else ''})"
    else:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())  # one line, whatever the message held
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 3] + "..."


def _where(error: BaseException) -> str | None:
    """The innermost frame of Solvyd's own code in the error's traceback (a library's frame,
    such as pydantic's parser, says less), as `file.py:line in function`."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename != __file__  # the supervisor's own frame, which caught it
    ]
    ours = [frame for frame in frames if "solvyd" in PurePath(frame.filename).parts]
    if not (ours or frames):
        return None
    frame = (ours or frames)[-1]
    return f"{PurePath(frame.filename).name}:{frame.lineno} in {frame.name}"
