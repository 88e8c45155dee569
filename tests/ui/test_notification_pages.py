"""A job's notifications in the browser against a real server and agent: a rule set up in the
job form (a refused one marked in the rule the server names), a test sent from the job page to
a webhook receiver on loopback with its result shown, and the build page listing what a failed
build sent, with the last error of a delivery the receiver refused."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import one_step
from tests.ui.conftest import SCREENSHOTS, Stack, log_in, screenshot


class Receiver:
    """A webhook receiver: /ok takes every request, /refuse answers 400."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.bodies: list[dict[str, object]] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.paths.append(self.path)
                received.bodies.append(json.loads(body))
                self.send_response(400 if self.path.startswith("/refuse") else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.paths) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.paths) >= count, self.paths
        return self.paths


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()
    thread = threading.Thread(target=got.server.serve_forever, daemon=True)
    thread.start()
    yield got
    got.server.shutdown()
    got.server.server_close()


def test_a_rule_set_in_the_form_is_tested_and_its_deliveries_shown(
    stack: Stack, page: Page, receiver: Receiver
) -> None:
    job = stack.api.create_job("ui-notified", one_step("echo failing", "exit 2"))
    log_in(page, stack.url)
    page.goto(f"{stack.url}/jobs/{job['id']}/edit")

    section = page.locator(".notifications-section")
    section.get_by_role("button", name="+ Add notification rule").click()
    first = section.get_by_role("listitem", name="Notification rule 1")
    first.get_by_label("Rule 1: type").select_option("webhook")
    first.get_by_label("URL of rule 1").fill(f"{receiver.url}/ok")
    expect(first.get_by_role("checkbox", name="Failed", exact=False)).to_be_checked()
    # A second rule of a type no plugin provides: the server refuses it and names the rule.
    section.get_by_role("button", name="+ Add notification rule").click()
    second = section.get_by_role("listitem", name="Notification rule 2")
    second.get_by_label("Rule 2: type").select_option("other")
    second.get_by_label("Type of rule 2").fill("carrier-pigeon")
    page.get_by_role("button", name="Save changes").click()
    expect(second.get_by_role("alert")).to_contain_text("type")
    expect(first.get_by_role("alert")).to_have_count(0)
    screenshot(page, "job-form-notification-refused")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=str(SCREENSHOTS / "job-form-notifications-section.png"))
    assert stack.api.http.get(f"/jobs/{job['id']}").json()["notifications"] == []

    second.get_by_role("button", name="Remove notification rule 2").click()
    section.get_by_role("button", name="+ Add notification rule").click()
    refusing = section.get_by_role("listitem", name="Notification rule 2")
    refusing.get_by_label("Rule 2: type").select_option("webhook")
    refusing.get_by_label("URL of rule 2").fill(f"{receiver.url}/refuse")
    screenshot(page, "job-form-notifications")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"{stack.url}/jobs/{job['id']}")
    saved = stack.api.http.get(f"/jobs/{job['id']}").json()["notifications"]
    assert [(rule["type"], rule["url"]) for rule in saved] == [
        ("webhook", f"{receiver.url}/ok"),
        ("webhook", f"{receiver.url}/refuse"),
    ]

    card = page.locator(".notifications-card")
    rules = card.get_by_role("list", name="Notification rules").get_by_role("listitem")
    expect(rules).to_have_count(2)
    card.get_by_role("button", name="Send a test notification").click()
    expect(rules.nth(0).get_by_test_id("notification-test-result")).to_contain_text("Test sent")
    expect(rules.nth(1).get_by_test_id("notification-test-result")).to_contain_text("Test failed")
    expect(card.get_by_role("status")).to_contain_text("1 of 2 test notifications failed")
    assert sorted(receiver.wait_for(2)) == ["/ok", "/refuse"]
    screenshot(page, "job-notifications-tested")
    card.screenshot(path=str(SCREENSHOTS / "job-notifications-card.png"))

    build = stack.api.trigger(job["id"])
    assert stack.api.wait_for_finish(build["id"])["status"] == "failure"
    receiver.wait_for(4)
    page.goto(f"{stack.url}/builds/{build['id']}")
    deliveries = page.locator(".build-notifications")
    # The page asks again while a delivery is pending, so both end up settled here.
    expect(deliveries.locator("tr[data-delivery-status='sent']")).to_have_count(1)
    expect(deliveries.locator("tr[data-delivery-status='failed']")).to_have_count(1)
    expect(deliveries.get_by_role("alert")).to_contain_text("1 notification could not be delivered")
    expect(deliveries.locator("tr.report-failure")).to_contain_text("Last error:")
    expect(deliveries.locator("tr.report-failure")).to_contain_text("400")
    screenshot(page, "build-notifications")
    deliveries.screenshot(path=str(SCREENSHOTS / "build-notifications-section.png"))
