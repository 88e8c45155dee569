"""Follow a build's log live over the server's event stream, and turn its end into an exit
code. A dropped connection is resumed where it stopped, so no line is missed or repeated."""

import json
import time
from typing import Any

from solvyd.cli.api_client import ApiClient, StreamInterrupted
from solvyd.cli.errors import CliError
from solvyd.cli.log_lines import LineFormat
from solvyd.cli.output import err_console
from solvyd.shared.backoff import backoff_delays

# The server sends a keep-alive comment every 15 s; silence for this long means a dead link.
READ_TIMEOUT_SECONDS = 45.0
# How long to keep reconnecting to a server that went away before giving up.
RECONNECT_FOR_SECONDS = 120.0

# failure -> the build's own exit code; these for the rest.
EXIT_CODES = {"success": 0, "cancelled": 130, "error": 1}


def exit_code_for(build: dict[str, Any]) -> int:
    if build["status"] == "failure":
        return int(build.get("exit_code") or 1)
    return EXIT_CODES.get(build["status"], 1)


def follow_build(
    client: ApiClient,
    build_id: str,
    *,
    steps: list[str] | None = None,
    fmt: LineFormat | None = None,
) -> dict[str, Any]:
    """Print the log from the start as it arrives; return the finished build. `steps`: only
    these steps' lines (default all); `fmt` defaults to a step column for several steps."""
    if fmt is None:
        shown = steps or [step["name"] for step in client.get(f"/builds/{build_id}")["steps"]]
        fmt = LineFormat.for_view(shown if steps is None or len(steps) > 1 else None)
    # One step is filtered by the server; several (a matrix's cells) here.
    params = {"step": steps[0]} if steps and len(steps) == 1 else {}
    wanted = set(steps) if steps and len(steps) > 1 else None
    last_id: str | None = None
    interrupted_since: float | None = None
    delays = backoff_delays(base=0.5, cap=5.0)
    ended = False
    while not ended:
        try:
            for event in client.events(
                f"/builds/{build_id}/logs/stream",
                params=params,
                last_event_id=last_id,
                read_timeout=READ_TIMEOUT_SECONDS,
            ):
                interrupted_since = None
                ended = _show(event.event, json.loads(event.data), fmt, wanted)
                if event.event == "lines":
                    last_id = event.id
                if ended:
                    break
            else:
                # The server closed the stream without an end event: it is shutting down.
                raise StreamInterrupted("the server closed the stream")
        except StreamInterrupted as exc:
            now = time.monotonic()
            interrupted_since = interrupted_since or now
            if now - interrupted_since > RECONNECT_FOR_SECONDS:
                raise CliError(f"lost the log stream and could not resume it: {exc}") from None
            time.sleep(next(delays))
    build: dict[str, Any] = client.get(f"/builds/{build_id}")
    summary = f"build #{build['number']} {build['status']}"
    if build.get("error_message") and build["status"] != "cancelled":
        summary += f": {build['error_message']}"
    err_console.print(summary)
    return build


def _show(kind: str, data: dict[str, Any], fmt: LineFormat, wanted: set[str] | None) -> bool:
    """Print one event; True for the end of the stream."""
    if kind == "lines":
        if wanted is None or data.get("step") in wanted:
            fmt.write(data["lines"], data.get("step"))
    elif kind == "reset":
        err_console.print(f"the build started again (attempt {data['attempt']}); its log restarts")
    elif kind == "step" and _several_steps(fmt) and data["status"] not in ("pending", "running"):
        code = "" if data.get("exit_code") is None else f" (exit {data['exit_code']})"
        err_console.print(f"step {data['name']}: {data['status']}{code}")
    return kind == "end"


def _several_steps(fmt: LineFormat) -> bool:
    return fmt.column is not None and len(fmt.column.steps) > 1
