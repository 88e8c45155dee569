"""Role-aware pages: a viewer sees no button it may not use, and the API refuses it anyway."""

from playwright.sync_api import Page, expect

from tests.e2e.helpers import one_step
from tests.ui.conftest import Stack, log_in

VIEWER_PASSWORD = "viewer-password-1"


def test_a_viewer_sees_no_trigger_button_and_the_api_refuses_its_trigger(
    stack: Stack, page: Page
) -> None:
    job = stack.api.create_job("ui-guarded", one_step("echo hi"))
    created = stack.api.http.post(
        "/users", json={"username": "vera", "password": VIEWER_PASSWORD, "role": "viewer"}
    )
    assert created.status_code == 201, created.text

    log_in(page, stack.url, "vera", VIEWER_PASSWORD)
    page.goto(f"{stack.url}/jobs")
    expect(page.get_by_role("link", name="ui-guarded")).to_be_visible()
    expect(page.get_by_role("button", name="Trigger ui-guarded")).to_have_count(0)
    expect(page.get_by_role("link", name="New job")).to_have_count(0)
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    expect(page.get_by_role("link", name="Plugins")).to_have_count(0)
    page.goto(f"{stack.url}/jobs/{job['id']}")
    expect(page.get_by_role("heading", name="ui-guarded")).to_be_visible()
    expect(page.get_by_role("button", name="Trigger", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)

    # The same browser session asks the API directly: refused.
    status = page.evaluate(
        """async (jobId) => {
            const session = JSON.parse(localStorage.getItem("solvyd.session"));
            const answer = await fetch(`/api/v1/jobs/${jobId}/trigger`, {
                method: "POST",
                headers: {
                    Authorization: `Bearer ${session.accessToken}`,
                    "Content-Type": "application/json",
                },
                body: "{}",
            });
            return answer.status;
        }""",
        job["id"],
    )
    assert status == 403
    builds = stack.api.http.get("/builds", params={"job_id": job["id"]}).json()["items"]
    assert builds == []
