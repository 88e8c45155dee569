"""Follow a build's log live over the server's event stream, and turn its end into an exit
code. A dropped connection is resumed where it stopped, so no line is missed or repeated."""

import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from solvyd.cli.api_client import ApiClient, StreamInterrupted
from solvyd.cli.errors import CliError
from solvyd.cli.output import err_console
from solvyd.shared.backoff import backoff_delays
from solvyd.shared.log_text import strip_ansi

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


@dataclass(frozen=True)
class LineFormat:
    """How log lines are printed: with their step, their time, or as plain text (`raw`: no
    step prefix and no ANSI colour codes)."""

    with_steps: bool = False
    timestamps: bool = False
    raw: bool = False

    def render(self, line: dict[str, Any], step: str | None) -> str:
        text = str(line["text"])
        if self.raw:
            return strip_ansi(text)
        if self.with_steps and step:
            text = f"[{step}] {text}"
        if self.timestamps and line.get("ts"):
            text = f"{line['ts']} {text}"
        return text


def print_lines(lines: list[dict[str, Any]], fmt: LineFormat) -> None:
    sys.stdout.write("".join(fmt.render(line, line.get("step")) + "\n" for line in lines))
    sys.stdout.flush()


def follow_build(
    client: ApiClient,
    build_id: str,
    *,
    step: str | None = None,
    fmt: LineFormat | None = None,
) -> dict[str, Any]:
    """Print the log from the start as it arrives; return the finished build."""
    fmt = fmt or LineFormat()
    params = {"step": step} if step else {}
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
                ended = _show(event.event, json.loads(event.data), fmt)
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


def _show(kind: str, data: dict[str, Any], fmt: LineFormat) -> bool:
    """Print one event; True for the end of the stream."""
    if kind == "lines":
        sys.stdout.write(
            "".join(fmt.render(line, data.get("step")) + "\n" for line in data["lines"])
        )
        sys.stdout.flush()
    elif kind == "reset":
        err_console.print(f"the build started again (attempt {data['attempt']}); its log restarts")
    elif kind == "step" and fmt.with_steps and data["status"] not in ("pending", "running"):
        code = "" if data.get("exit_code") is None else f" (exit {data['exit_code']})"
        err_console.print(f"step {data['name']}: {data['status']}{code}")
    return kind == "end"
