"""The image's HEALTHCHECK: a server (or `solvyd up`) in this container answers GET /healthz on
its --port; an agent has no HTTP endpoint of its own, so its container is healthy while the
agent process runs (Docker restarts it by its exit, not by this check)."""

import sys
import urllib.request
from pathlib import Path

SERVING = {"server", "up"}


def solvyd_commands() -> list[list[str]]:
    """The argument lists of this container's `solvyd` processes (PID 1 or, under --init, its
    child), the program name dropped."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        for index, arg in enumerate(args[:3]):
            if Path(arg).name == "solvyd":
                found.append(args[index + 1 :])
                break
    return found


def port_of(args: list[str]) -> str:
    for index, arg in enumerate(args):
        if arg == "--port" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--port="):
            return arg.removeprefix("--port=")
    return "8080"


def main() -> int:
    commands = solvyd_commands()
    for args in commands:
        if args and args[0] in SERVING:
            url = f"http://127.0.0.1:{int(port_of(args))}/healthz"
            with urllib.request.urlopen(url, timeout=4) as response:
                return 0 if response.status == 200 else 1
    return 0 if any(args and args[0] == "agent" for args in commands) else 1


if __name__ == "__main__":
    sys.exit(main())
