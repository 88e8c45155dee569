"""The build loop from the browser: create a job, trigger it, watch its log arrive live, see
it succeed; cancel a running build."""

import re
import time

from playwright.sync_api import Page, expect

from tests.e2e.helpers import one_step
from tests.ui.conftest import Stack, log_in, screenshot

BROKEN = "steps:\n  - name: greet\n    commands: [echo hi]\n  - name: broken\n    image: alpine\n"
# The second line comes a few seconds after the first: seeing one without the other proves the
# page shows the log while the build runs, not after.
LIVE = (
    "steps:\n"
    "  - name: greet\n"
    "    commands:\n"
    "      - echo 'first line'\n"
    "      - sleep 4\n"
    "      - echo 'second line'\n"
    "  - name: after\n"
    "    depends_on: [greet]\n"
    "    commands: [echo 'all done']\n"
)


def _build_id(page: Page) -> str:
    match = re.search(r"/builds/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def test_create_a_job_trigger_it_and_watch_its_log_live(stack: Stack, page: Page) -> None:
    log_in(page, stack.url)
    page.get_by_role("link", name="Jobs", exact=True).click()
    page.get_by_role("link", name="New job").first.click()
    page.get_by_label("Name", exact=True).fill("ui-live")

    pipeline = page.get_by_label("Pipeline (YAML)")
    pipeline.fill(BROKEN)
    problems = page.get_by_role("list", name="Problems in the pipeline")
    # The server's validation names the line of the step that has no commands.
    expect(problems).to_contain_text("Line 4")
    screenshot(page, "job-edit-with-error")
    pipeline.fill(LIVE)
    expect(page.get_by_text(re.compile(r"Valid, 2 steps"))).to_be_visible()
    page.get_by_role("button", name="Create job").click()

    expect(page.get_by_role("heading", name="ui-live")).to_be_visible()
    screenshot(page, "job-detail")
    page.get_by_role("button", name="Trigger", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Branch").fill("main")
    dialog.get_by_role("button", name="Trigger build").click()
    page.wait_for_url(re.compile(r"/builds/[0-9a-f-]{36}"))
    build_id = _build_id(page)

    log = page.get_by_role("log")
    expect(log).to_contain_text("first line", timeout=20_000)
    # The first line is on screen while the build still runs and before the second is printed.
    assert stack.api.build(build_id)["status"] == "running"
    expect(log).not_to_contain_text("second line")
    badge = page.locator(".build-header .badge")
    expect(badge).to_have_attribute("data-status", "running")
    screenshot(page, "build-running")

    expect(log).to_contain_text("second line", timeout=20_000)
    expect(log).to_contain_text("all done", timeout=20_000)
    expect(badge).to_have_attribute("data-status", "success", timeout=20_000)
    assert stack.api.build(build_id)["branch"] == "main"
    screenshot(page, "build-detail")


def test_cancel_a_running_build(stack: Stack, page: Page) -> None:
    job = stack.api.create_job("ui-sleeper", one_step("echo sleeping", "sleep 60"))
    build = stack.api.trigger(job["id"])
    stack.api.wait_for_status(build["id"], {"running"})
    log_in(page, stack.url)
    page.goto(f"{stack.url}/builds/{build['id']}")
    expect(page.get_by_role("log")).to_contain_text("sleeping")
    started = time.monotonic()
    page.get_by_role("button", name="Cancel build").click()
    expect(page.locator(".build-header .badge")).to_have_attribute("data-status", "cancelled")
    assert time.monotonic() - started < 15
    assert stack.api.wait_for_finish(build["id"])["status"] == "cancelled"
    # A finished build offers a retry instead.
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
