"""The "All steps" log of steps that ran side by side: each line carries its step, and a
`::group::` a step printed folds until opened, or until a search finds a line inside it."""

import re

from playwright.sync_api import Page, expect

from tests.ui.conftest import Stack, log_in, screenshot

PARALLEL = """\
steps:
  - name: lint
    commands:
      - echo '::group::Install lint tools'
      - echo 'installing ruff'
      - echo '::endgroup::'
      - echo 'lint passed'
  - name: unit
    commands: [echo 'unit passed']
  - name: wheel
    depends_on: [lint, unit]
    commands: [echo 'wheel built']
"""


def test_all_steps_shows_each_lines_step_and_folds_groups(stack: Stack, page: Page) -> None:
    job = stack.api.create_job("ui-groups", PARALLEL)
    build = stack.api.trigger(job["id"])
    assert stack.api.wait_for_finish(build["id"])["status"] == "success"
    log_in(page, stack.url)
    page.goto(f"{stack.url}/builds/{build['id']}")

    log = page.get_by_role("log", name="Build log")
    expect(log).to_contain_text("wheel built")
    unit = log.locator(
        ".log-row", has=page.locator(".log-text", has_text=re.compile("^unit passed$"))
    )
    expect(unit.locator(".log-step")).to_have_text("unit")
    header = log.get_by_role("button", name="Install lint tools")
    expect(header).to_have_attribute("aria-expanded", "false")
    expect(log.locator(".log-group-row").locator(".log-step")).to_have_text("lint")
    # Folded: the group's line is not shown, and neither are the markers.
    expect(log).not_to_contain_text("installing ruff")
    expect(log).not_to_contain_text("::endgroup::")

    header.click()
    expect(header).to_have_attribute("aria-expanded", "true")
    expect(log).to_contain_text("installing ruff")
    screenshot(page, "build-log-groups")
    header.click()
    expect(log).not_to_contain_text("installing ruff")

    # A search finds the folded line and opens its group.
    page.get_by_placeholder("Search the log").fill("installing")
    # The command as the step ran it, and what it printed.
    expect(page.get_by_role("status").filter(has_text="1 of 2")).to_be_visible()
    expect(log.locator("mark")).to_have_text(["installing", "installing"])
    expect(header).to_have_attribute("aria-expanded", "true")
