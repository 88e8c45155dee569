"""Every page renders, signed in as an admin, on a desktop and a phone, light and dark,
without a script error; the screenshots are what docs/ui.md shows."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import one_step
from tests.ui.conftest import DESKTOP, PHONE, WAIT_MS, Stack, log_in, screenshot

PIPELINE = (
    "steps:\n"
    "  - name: lint\n    commands: [\"printf '\\\\033[32mok\\\\033[0m lint\\\\n'\"]\n"
    "  - name: unit\n    commands: ['for i in $(seq 1 40); do echo \"test $i passed\"; done']\n"
    "  - name: package\n    depends_on: [lint, unit]\n    commands: [echo packaged]\n"
)


@pytest.fixture
def seeded(stack: Stack) -> Stack:
    """Builds that succeeded and failed, so the lists and charts have something to show."""
    app = stack.api.create_job("webapp", PIPELINE, labels=[])
    flaky = stack.api.create_job("flaky-tests", one_step("echo running", "exit 1"))
    for job in (app, flaky, app):
        stack.api.wait_for_finish(stack.api.trigger(job["id"])["id"])
    return stack


PAGES = [
    ("dashboard", "/", "Dashboard"),
    ("jobs", "/jobs", "Jobs"),
    ("job-new", "/jobs/new", "New job"),
    ("builds", "/builds", "Builds"),
    ("workers", "/workers", "Workers"),
    ("users", "/users", "Users"),
    ("plugins", "/plugins", "Plugins"),
    ("tokens", "/tokens", "API tokens"),
]
LOOKS = [
    ("desktop", DESKTOP, "light"),
    ("desktop-dark", DESKTOP, "dark"),
    ("phone", PHONE, "light"),
]

# The page draws on after its data arrived (charts, the log view's measuring): a moment.
SETTLE_MS = 300


@pytest.fixture
def admin_page(browser: Browser, seeded: Stack) -> Iterator[tuple[Page, list[str]]]:
    # Reduced motion: the charts are drawn at once instead of animated in.
    context = browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, seeded.url)
    yield page, errors
    context.close()


def test_every_page_renders_in_every_look(
    seeded: Stack, admin_page: tuple[Page, list[str]]
) -> None:
    page, errors = admin_page
    build = seeded.api.http.get("/builds", params={"limit": 1}).json()["items"][0]
    pages = [*PAGES, ("build-detail", f"/builds/{build['id']}", "webapp")]
    for look, viewport, scheme in LOOKS:
        page.set_viewport_size(viewport)
        page.emulate_media(color_scheme=scheme)
        for name, path, heading in pages:
            page.goto(f"{seeded.url}{path}")
            expect(page.get_by_role("heading", level=1).first).to_contain_text(heading)
            # The page keeps its events stream open, so "network idle" never comes: wait
            # for the loading notes to go instead.
            expect(page.get_by_text("Loading…")).to_have_count(0)
            page.wait_for_timeout(SETTLE_MS)
            screenshot(page, f"{name}-{look}")
            # Nothing on a phone may be wider than the screen: tables scroll inside their box.
            if viewport == PHONE:
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{path} is {width}px wide on a phone"
    assert errors == []
