"""What a forge's webhook starts, seen in the browser against a real server: a fork's pull
request waits for approval until a developer presses Approve on the build page, and the job's
Deliveries tab lists the delivery and replays it.

The webhook is GitHub's `pull_request` event, shaped like GitHub's documented payload
(tests/support/forge_payloads/github.py) and signed with the job's secret. The repository is
GitHub's, which this machine cannot reach: the approved build is expected to fail its checkout,
which this test does not look at."""

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.helpers import one_step
from tests.support.forge_payloads import github, sign
from tests.ui.conftest import Stack, log_in, screenshot

SECRET = "ui-webhook-secret-7"


def _post_fork_pull_request(stack: Stack) -> dict[str, Any]:
    base = github.repository("octo-org", "app")
    fork = github.repository("someone", "app")
    request = sign(github.pull_request(repo=base, head_repo=fork, number=42), SECRET)
    answer = httpx.post(
        f"{stack.url}/api/v1/hooks/github", content=request.body, headers=request.headers
    )
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def test_a_forks_build_waits_for_approval_and_the_delivery_can_be_replayed(
    stack: Stack, page: Page
) -> None:
    job = stack.api.create_job(
        "ui-forge",
        one_step("echo hi"),
        scm_url="https://github.com/octo-org/app.git",
        webhook_secret=SECRET,
        fork_approval=True,
    )
    answer = _post_fork_pull_request(stack)
    [build] = answer["builds"]

    log_in(page, stack.url)
    page.goto(f"{stack.url}/builds/{build['id']}")
    banner = page.get_by_role("region", name="Waiting for approval")
    expect(banner).to_be_visible()
    expect(page.get_by_text("PR #42")).to_be_visible()
    screenshot(page, "build-waiting-for-approval")
    banner.get_by_role("button", name="Approve").click()
    expect(banner).to_have_count(0)
    expect(page.get_by_text("Approved by admin.")).to_be_visible()
    approved = stack.api.http.get(f"/builds/{build['id']}").json()
    assert approved["awaiting_approval"] is False
    assert approved["approved_by"] == "admin"

    page.goto(f"{stack.url}/jobs/{job['id']}")
    page.get_by_role("tab", name="Deliveries").click()
    delivery = page.locator("li.delivery").first
    expect(delivery).to_contain_text("accepted")
    expect(delivery).to_contain_text("pull_request")
    screenshot(page, "job-deliveries")
    delivery.get_by_role("button", name="Replay").click()
    # The replay is a delivery of its own, listed above the original (which says what it made).
    expect(page.get_by_role("status").filter(has_text="Replayed")).to_contain_text("Build #2")
    builds = stack.api.http.get("/builds", params={"job_id": job["id"]}).json()["items"]
    assert sorted(b["number"] for b in builds) == [1, 2]
    # The replayed fork build waits for its own approval.
    assert next(b for b in builds if b["number"] == 2)["awaiting_approval"] is True
