"""The builtin checkout step's program: ``python -m solvyd.agent.checkout_program``.

Each executor runs it as the build's first step, with the workspace as its working directory
(on the agent's machine for ``local``; in a container of the checkout image for the container
backends). It reads from its environment:

- ``SOLVYD_CHECKOUT``: JSON of what to fetch (``CheckoutRequest``), written by the agent;
- ``SOLVYD_CHECKOUT_CREDENTIALS`` (optional): the text of the job's checkout credentials
  secret (``checkout.credentials_from_secret``), given as a secret env value.

It checks out with ``agent/checkout.py`` (the same name checks, fallbacks, masking and time
limit as ever), prints git's lines, masked, and as its LAST line exactly
``solvyd-checkout: commit <40-hex sha>``, which the agent reads to report the build's commit.
Exit 0 on success; on failure, the reason is the last line, on stderr, and the exit code 1.
"""

import asyncio
import json
import os
import re
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from solvyd.agent.checkout import (
    DEFAULT_TIMEOUT_SECONDS,
    CheckoutError,
    CheckoutTarget,
    GitCredentials,
    checkout,
    credentials_from_secret,
)

REQUEST_ENV = "SOLVYD_CHECKOUT"
CREDENTIALS_ENV = "SOLVYD_CHECKOUT_CREDENTIALS"
RESULT_PREFIX = "solvyd-checkout: commit "
RESULT_LINE = re.compile(r"^solvyd-checkout: commit ([0-9a-f]{40})$")


class CheckoutRequest(BaseModel):
    """What the checkout step fetches: the build's repository at its commit (pinned by the
    agent when it read the pipeline from it), branch, or default branch."""

    model_config = ConfigDict(extra="forbid")

    scm_url: str
    commit_sha: str | None = None
    branch: str | None = None
    checkout_ref: str | None = None
    checkout_url: str | None = None
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0)

    def target(self) -> CheckoutTarget:
        return CheckoutTarget(
            scm_url=self.scm_url,
            commit_sha=self.commit_sha,
            branch=self.branch,
            checkout_ref=self.checkout_ref,
            checkout_url=self.checkout_url,
        )


def commit_from_line(line: str) -> str | None:
    """The sha the program's last line names, or None if `line` is not that line."""
    found = RESULT_LINE.match(line.strip())
    return found.group(1) if found else None


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _complain(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


async def _run(request: CheckoutRequest, credentials: GitCredentials | None) -> str:
    return await checkout(
        request.target(),
        Path.cwd(),
        _say,
        credentials=credentials,
        timeout_seconds=request.timeout_seconds,
    )


def main() -> int:
    # Taken out of the environment at once: git and ssh, which inherit it, need none of it.
    secret = os.environ.pop(CREDENTIALS_ENV, None)
    try:
        request = CheckoutRequest.model_validate_json(os.environ.get(REQUEST_ENV) or "")
        credentials = credentials_from_secret(secret) if secret else None
        sha = asyncio.run(_run(request, credentials))
    except ValidationError as exc:
        reason = f"{REQUEST_ENV} is not a valid checkout request: {exc.errors()[0]['msg']}"
        _complain(reason)
        return 2
    except CheckoutError as exc:
        # One line per line of the reason; the last is the one the build's error shows.
        _complain(str(exc))
        return 1
    _say(f"{RESULT_PREFIX}{sha}")
    return 0


def request_json(request: CheckoutRequest) -> str:
    return json.dumps(request.model_dump(exclude_none=True), separators=(",", ":"))


if __name__ == "__main__":
    sys.exit(main())
