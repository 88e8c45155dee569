"""Follow a build's log as it is written, and turn its end into an exit code."""

from typing import Any

from solvyd.cli.api_client import ApiClient
from solvyd.cli.output import console, err_console

WAIT_SECONDS = 20.0

# failure -> the build's own exit code; these for the rest.
EXIT_CODES = {"success": 0, "cancelled": 130, "error": 1}


def exit_code_for(build: dict[str, Any]) -> int:
    if build["status"] == "failure":
        return int(build.get("exit_code") or 1)
    return EXIT_CODES.get(build["status"], 1)


def print_lines(lines: list[dict[str, Any]], *, with_steps: bool) -> None:
    for line in lines:
        text = line["text"]
        if with_steps and line.get("step"):
            console.out(f"[{line['step']}] {text}", highlight=False)
        else:
            console.out(text, highlight=False)


def follow_build(
    client: ApiClient, build_id: str, *, step: str | None = None, with_steps: bool = False
) -> dict[str, Any]:
    """Print the log from the start as it arrives; return the finished build."""
    after = -1
    params: dict[str, Any] = {"wait": WAIT_SECONDS}
    if step:
        params["step"] = step
    while True:
        page = client.get(
            f"/builds/{build_id}/logs", params={**params, "after": after}, timeout=WAIT_SECONDS + 30
        )
        print_lines(page["lines"], with_steps=with_steps)
        after = page["next_after"]
        if page["finished"]:
            break
    build: dict[str, Any] = client.get(f"/builds/{build_id}")
    summary = f"build #{build['number']} {build['status']}"
    if build.get("error_message") and build["status"] != "cancelled":
        summary += f": {build['error_message']}"
    err_console.print(summary)
    return build
