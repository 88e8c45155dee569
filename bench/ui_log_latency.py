"""The web UI's live log: how long a printed line takes to be on screen in a real browser.

Starts `solvyd server` (SQLite, serving the built UI from web/dist) and a real `solvyd agent`
(local executor), signs in with Debian's Chromium driven by Playwright, triggers a build whose
step prints a line every `--interval-ms` (each line carries the time it was printed), and opens
the build's page. In the page, once per animation frame (what the user can see), the newest
rows of the log view are read; a line's latency is the frame's time minus the time in its
text (one machine, one wall clock). The page's own work is part of it: the SSE stream, the
batching of new lines per frame, the virtualised list's render.
Prints one JSON line on stdout, progress on stderr (about half a minute).
Usage: python bench/ui_log_latency.py [--lines 300] [--interval-ms 50]
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from common import (
    PASSWORD,
    free_port,
    latency_summary,
    load_average,
    machine_description,
    server_env,
    spawn_agent,
    start_server,
    stop_all,
)

REPO = Path(__file__).resolve().parents[1]
WEB_DIST = REPO / "web" / "dist"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Runs in the page: every frame, the texts of the log rows on screen that carry a print time.
SAMPLER = """() => {
    window.__latencies = {};
    const sample = () => {
        const now = Date.now() / 1000;
        for (const row of document.querySelectorAll('[role="log"] .log-row')) {
            const match = /printed=(\\d+\\.\\d+) n=(\\d+)/.exec(row.textContent || "");
            if (match && !(match[2] in window.__latencies)) {
                window.__latencies[match[2]] = (now - parseFloat(match[1])) * 1000;
            }
        }
        requestAnimationFrame(sample);
    };
    requestAnimationFrame(sample);
}"""


def progress(message: str) -> None:
    print(f"[ui-log-latency] {message}", file=sys.stderr, flush=True)


def printing_pipeline(lines: int, interval_ms: float, head_start: float) -> str:
    script = (
        f"import time; time.sleep({head_start}); "
        f"[(print('printed=%.6f n=%d' % (time.time(), i), flush=True), "
        f"time.sleep({interval_ms / 1000})) for i in range({lines})]"
    )
    return json.dumps(
        {"steps": [{"name": "print", "commands": [f'{sys.executable} -c "{script}"']}]}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--interval-ms", type=float, default=50)
    parser.add_argument("--head-start", type=float, default=4.0, help="seconds before printing")
    args = parser.parse_args()
    if not (WEB_DIST / "index.html").is_file():
        sys.exit("the web UI is not built: make web")
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium on PATH: apt-get install -y chromium")

    load_at_start = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="solvyd-bench-ui-"))
    env = {
        **server_env(f"sqlite:///{workdir / 'bench.db'}", workdir),
        "SOLVYD_WEB_DIR": str(WEB_DIST),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes = [start_server(port, env, workdir / "server.log")]
    try:
        processes.append(spawn_agent(url, "printer", 1, workdir / "work", workdir / "agent.log"))
        api = httpx.Client(base_url=f"{url}/api/v1", timeout=30)
        token = api.post("/auth/login", json={"username": "admin", "password": PASSWORD})
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        pipeline = printing_pipeline(args.lines, args.interval_ms, args.head_start)
        job = api.post("/jobs", json={"name": "printer", "pipeline": pipeline}).json()
        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(30_000)
            page.goto(f"{url}/login")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_test_id("whoami").wait_for()
            build = api.post(f"/jobs/{job['id']}/trigger", json={}).json()
            progress(f"build {build['id']}: {args.lines} lines, one per {args.interval_ms} ms")
            page.goto(f"{url}/builds/{build['id']}")
            page.get_by_role("log").wait_for()
            page.evaluate(SAMPLER)
            deadline = (
                time.monotonic() + args.head_start + args.lines * args.interval_ms / 1000 + 30
            )
            while time.monotonic() < deadline:
                if api.get(f"/builds/{build['id']}").json()["status"] not in ("queued", "running"):
                    break
                time.sleep(0.2)
            page.wait_for_timeout(500)
            latencies: dict[str, float] = page.evaluate("() => window.__latencies")
            browser.close()
    finally:
        stop_all(processes)
    values = list(latencies.values())
    print(
        json.dumps(
            {
                "bench": "ui_log_latency",
                "lines_printed": args.lines,
                "lines_seen": len(values),
                "interval_ms": args.interval_ms,
                "print_to_screen_ms": latency_summary(values) if values else None,
                "load_average": {"start": load_at_start, "end": load_average()},
                "machine": machine_description(),
            }
        )
    )


if __name__ == "__main__":
    main()
