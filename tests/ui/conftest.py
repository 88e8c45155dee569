"""Browser tests: Debian's Chromium, driven by Playwright, against a real server (serving the
built UI) and a real agent. Playwright cannot download a browser here, so it launches the
system's `chromium`. Under CI=true a missing browser or unbuilt UI fails instead of skipping."""

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import IN_CI
from tests.e2e.helpers import UserApi
from tests.support.processes import (
    ADMIN_PASSWORD,
    Process,
    ServerProcess,
    start_agent,
    start_server,
)

REPO = Path(__file__).resolve().parents[2]
WEB_DIST = REPO / "web" / "dist"
# Where the screenshots go for a reviewer (and for docs/ui.md); CI keeps the test output.
SCREENSHOTS = Path(os.environ.get("SOLVYD_SCREENSHOT_DIR", REPO / "test-output" / "screenshots"))
# What the Playwright probe of this machine needed: no sandbox as root, no GPU, and none of
# Chromium's own background connections (refused here, many at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Every wait on the page is bounded by this unless a step says otherwise (ms).
WAIT_MS = 15_000

pytestmark = pytest.mark.e2e


def _missing(problem: str) -> None:
    if IN_CI:
        pytest.fail(problem)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("no chromium on PATH: apt-get install -y chromium")
    assert path is not None
    return path


# Module, not session: Playwright's sync API keeps an event loop running in this thread for as
# long as it is open, and the async tests that come after the browser tests need that thread's
# loop free.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: str) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS, timeout=30_000
    )
    yield launched
    launched.close()


@dataclass
class Stack:
    server: ServerProcess
    agent: Process
    api: UserApi

    @property
    def url(self) -> str:
        return self.server.url


def require_built_ui() -> None:
    if not (WEB_DIST / "index.html").is_file():
        _missing("the web UI is not built: make web")


@contextlib.contextmanager
def running_stack(tmp_path: Path, log_dir: Path, **server_env: str) -> Iterator[Stack]:
    """A server serving the built UI, on SQLite (`server_env`: more of its settings), and one
    local agent."""
    require_built_ui()
    database_url = f"sqlite:///{tmp_path / 'ui.db'}"
    server = start_server(
        database_url, tmp_path / "server-data", log_dir, SOLVYD_WEB_DIR=str(WEB_DIST), **server_env
    )
    agent: Process | None = None
    api: UserApi | None = None
    try:
        agent = start_agent(server.url, log_dir, tmp_path / "work", name="ui-agent")
        api = UserApi(server)
        api.wait_for_worker("ui-agent")
        yield Stack(server, agent, api)
    finally:
        if api is not None:
            api.http.close()
        if agent is not None:
            agent.stop()
        server.process.stop()


@pytest.fixture
def stack(tmp_path: Path, log_dir: Path) -> Iterator[Stack]:
    """A server serving the built UI, on SQLite, and one local agent."""
    with running_stack(tmp_path, log_dir) as started:
        yield started


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=DESKTOP, color_scheme="light")
    ctx.set_default_timeout(WAIT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, url: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("whoami").wait_for()
