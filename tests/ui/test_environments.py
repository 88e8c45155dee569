"""Deployments from the browser, against a real server and agent: a deploy step that waits for
approval shows on its build's page, is approved there, runs and succeeds, and the Environments
pages then show what runs where; an environment whose versions the server rolled out to a
Kubernetes cluster (the fake API server, tests/support/kube_fake) is rolled back with its
Rollback button; a viewer sees none of these buttons, and the API refuses its rollback."""

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.kube_fake import apps
from tests.support.kube_fake.core import FakeCluster, serving
from tests.ui.conftest import DESKTOP, PHONE, WAIT_MS, Stack, log_in, running_stack, screenshot

# A script deploy: the agent runs the step's commands once a developer approved it.
SCRIPT_DEPLOY = (
    "steps:\n"
    "  - name: build\n"
    "    commands: [echo built]\n"
    "  - name: ship\n"
    "    depends_on: [build]\n"
    "    commands: [echo shipping 1.4.2 to staging]\n"
    "    deploy:\n"
    "      environment: staging\n"
    "      approval: required\n"
    "      version: '1.4.2'\n"
)


def kube_deploy(image: str) -> str:
    """The built-in target: the server sets the image of shop/web and waits for the rollout."""
    return (
        "steps:\n"
        "  - name: ship\n"
        "    deploy:\n"
        "      environment: production\n"
        "      kubernetes:\n"
        "        namespace: shop\n"
        "        deployment: web\n"
        f"        image: {image}\n"
    )


VIEWER_PASSWORD = "viewer-password-1"
# The page draws on after its data arrived: a moment before a screenshot.
SETTLE_MS = 300


@dataclass
class Cluster:
    """The fake Kubernetes API server, served from a thread of its own (the browser tests'
    thread belongs to Playwright's sync API)."""

    fake: FakeCluster
    apps: apps.AppsApi
    loop: asyncio.AbstractEventLoop
    kubeconfig: Path

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)


@contextlib.contextmanager
def cluster_in_a_thread(kubeconfig: Path) -> Iterator[Cluster]:
    fake = FakeCluster()
    api = apps.install(fake, rollout_seconds=0.5)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with serving(fake):
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(15), "the fake Kubernetes API did not start"
        yield Cluster(fake, api, loop, fake.write_kubeconfig(kubeconfig))
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        loop.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with cluster_in_a_thread(tmp_path / "kubeconfig") as running:
        yield running


@pytest.fixture
def deploy_stack(tmp_path: Path, log_dir: Path, cluster: Cluster) -> Iterator[Stack]:
    """The UI's stack, its server deploying to the fake cluster."""
    with running_stack(
        tmp_path,
        log_dir,
        SOLVYD_DEPLOY_KUBECONFIG=str(cluster.kubeconfig),
        SOLVYD_DEPLOY_POLL_SECONDS="0.5",
        SOLVYD_DEPLOY_ROLLOUT_POLL_SECONDS="0.2",
    ) as stack:
        yield stack


def build_deployments(stack: Stack, build_id: str) -> list[dict[str, Any]]:
    response = stack.api.http.get(f"/builds/{build_id}/deployments")
    response.raise_for_status()
    return list(response.json()["items"])


def wait_for_deployment(
    stack: Stack, build_id: str, status: str, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        items = build_deployments(stack, build_id)
        if items and items[-1]["status"] == status:
            return items[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {status} deployment of build {build_id}: {items}")
        time.sleep(0.1)


def environment(stack: Stack, name: str) -> dict[str, Any]:
    response = stack.api.http.get(f"/environments/{name}")
    response.raise_for_status()
    return dict(response.json())


def shots(browser: Browser, url: str, path: str, name: str, ready: str) -> None:
    """`path` in light and dark on a desktop and on a phone, as test_pages.py takes them;
    nothing on the phone wider than its screen."""
    for look, viewport, scheme in (
        ("desktop", DESKTOP, "light"),
        ("desktop-dark", DESKTOP, "dark"),
        ("phone", PHONE, "light"),
    ):
        context = browser.new_context(viewport=viewport, color_scheme=scheme)
        context.set_default_timeout(WAIT_MS)
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            log_in(page, url)
            page.goto(f"{url}{path}")
            expect(page.get_by_text(ready).first).to_be_visible()
            expect(page.get_by_text("Loading…")).to_have_count(0)
            page.wait_for_timeout(SETTLE_MS)
            screenshot(page, f"{name}-{look}")
            if viewport is PHONE:
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{path} is {width}px wide on a phone"
            assert errors == [], errors
        finally:
            context.close()


def viewer_sees_no_deploy_buttons(browser: Browser, stack: Stack, build_id: str) -> None:
    created = stack.api.http.post(
        "/users", json={"username": "vera", "password": VIEWER_PASSWORD, "role": "viewer"}
    )
    assert created.status_code == 201, created.text
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        log_in(page, stack.url, "vera", VIEWER_PASSWORD)
        page.goto(f"{stack.url}/environments/production")
        history = page.get_by_role("table", name="Deployment history")
        expect(history.locator("tr[data-status='awaiting_approval']")).to_have_count(1)
        buttons = re.compile("Approve|Reject|Rollback|Roll back")
        expect(page.get_by_role("button", name=buttons)).to_have_count(0)
        expect(page.get_by_role("checkbox")).to_have_count(0)
        page.goto(f"{stack.url}/builds/{build_id}")
        expect(page.locator(".build-deployments")).to_contain_text("awaiting approval")
        expect(page.get_by_role("button", name=buttons)).to_have_count(0)
        status = page.evaluate(
            """async () => {
                const session = JSON.parse(localStorage.getItem("solvyd.session"));
                const answer = await fetch("/api/v1/environments/production/rollback", {
                    method: "POST",
                    headers: {
                        Authorization: `Bearer ${session.accessToken}`,
                        "Content-Type": "application/json",
                    },
                    body: "{}",
                });
                return answer.status;
            }"""
        )
        assert status == 403
    finally:
        context.close()


def test_approve_a_deployment_on_the_build_page_and_see_it_on_environments(
    deploy_stack: Stack, page: Page
) -> None:
    stack = deploy_stack
    job = stack.api.create_job("shop-api", SCRIPT_DEPLOY)
    build = stack.api.trigger(job["id"])
    waiting = wait_for_deployment(stack, build["id"], "awaiting_approval")
    assert waiting["environment"] == "staging"

    log_in(page, stack.url)
    page.goto(f"{stack.url}/builds/{build['id']}")
    card = page.locator(".build-deployments")
    row = card.locator("tr[data-environment='staging']")
    expect(row).to_have_attribute("data-status", "awaiting_approval")
    expect(card).to_contain_text("Waiting for approval")
    expect(card).to_contain_text("1.4.2")
    # A clean screenshot: the worker's name and the step's log are on screen.
    expect(page.locator(".build-facts")).to_contain_text("ui-agent")
    expect(page.get_by_role("log")).to_contain_text("waiting for approval (approve: solvyd")
    screenshot(page, "build-deployment-waiting")

    page.get_by_role("button", name="Approve deployment #1 to staging").click()
    # Live: the page follows the deployment through its run to its end, and the build's.
    expect(row).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.get_by_role("button", name=re.compile("Approve"))).to_have_count(0)
    expect(card).to_contain_text("Approved by admin")
    expect(page.locator(".build-header .badge")).to_have_attribute(
        "data-status", "success", timeout=30_000
    )
    expect(page.get_by_role("log")).to_contain_text("shipping 1.4.2 to staging")
    screenshot(page, "build-deployments")
    deployed = build_deployments(stack, build["id"])[0]
    assert deployed["status"] == "succeeded"
    assert deployed["approved_by"] == "admin"

    page.get_by_role("link", name="Environments", exact=True).click()
    staging = page.get_by_role("listitem", name="staging")
    expect(staging).to_contain_text("1.4.2")
    expect(staging).to_contain_text("shop-api #1")
    expect(staging).to_contain_text("approved by admin")
    staging.get_by_role("link", name="staging").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("staging")
    history = page.get_by_role("table", name="Deployment history")
    expect(history.locator("tr[data-deployment='1']")).to_have_attribute("data-status", "succeeded")
    # A script deploy ran on the agent: the server cannot redo it, so no Rollback.
    expect(page.get_by_role("button", name="Rollback")).to_have_count(0)


def test_roll_back_a_kubernetes_environment_from_its_page(
    deploy_stack: Stack, cluster: Cluster, page: Page, browser: Browser
) -> None:
    stack = deploy_stack
    cluster.run(cluster.apps.add_deployment("shop", "web", "shop/web:1.0", replicas=2))
    for version in ("1.0", "1.1"):
        job = stack.api.create_job(
            f"web-{version.replace('.', '-')}", kube_deploy(f"shop/web:{version}")
        )
        build = stack.api.trigger(job["id"])
        assert stack.api.wait_for_finish(build["id"])["status"] == "success"
    assert cluster.apps.image_of("shop", "web") == "shop/web:1.1"
    log_in(page, stack.url)
    page.goto(f"{stack.url}/environments/production")
    expect(page.get_by_title("The version running there")).to_have_text("shop/web:1.1")
    page.get_by_role("button", name="Rollback").click()
    dialog = page.get_by_role("dialog", name="Roll back production?")
    expect(dialog).to_contain_text("goes back to version shop/web:1.0")
    screenshot(page, "environment-rollback-confirm")
    dialog.get_by_role("button", name="Roll back").click()
    expect(dialog).to_have_count(0)
    # The rollback is a deployment of its own; the server rolls the old image out.
    expect(page.get_by_title("The version running there")).to_have_text(
        "shop/web:1.0", timeout=30_000
    )
    history = page.get_by_role("table", name="Deployment history")
    expect(history.locator("tr[data-deployment='3']")).to_contain_text("rollback")
    expect(history.locator("tr[data-deployment='3']")).to_have_attribute("data-status", "succeeded")
    assert cluster.apps.image_of("shop", "web") == "shop/web:1.0"
    # A rollback belongs to no build: its rollout's lines are read on the environment's page.
    page.get_by_role("button", name="Rollout log (#3)").click()
    expect(page.get_by_label("Rollout of deployment #3")).to_contain_text(
        "the rollout of deployment shop/web is complete"
    )
    current = environment(stack, "production")["current"]
    assert current["kind"] == "rollback" and current["deployed_by"] == "admin"

    # Something waits in production while the pages are looked at: a protected deploy.
    stack.api.http.put(
        "/environments/production", json={"approval_required": True}
    ).raise_for_status()
    pending = stack.api.trigger(stack.api.create_job("web-1-2", kube_deploy("shop/web:1.2"))["id"])
    wait_for_deployment(stack, pending["id"], "awaiting_approval")
    shots(browser, stack.url, "/environments", "environments", "production")
    shots(browser, stack.url, "/environments/production", "environment-detail", "History")
    # A viewer sees the same pages without a button to act on, and the API refuses it anyway.
    viewer_sees_no_deploy_buttons(browser, stack, pending["id"])
    # The waiting build holds the agent: end it, so the agent stops at once.
    stack.api.cancel(pending["id"])
    assert stack.api.wait_for_finish(pending["id"])["status"] == "cancelled"
