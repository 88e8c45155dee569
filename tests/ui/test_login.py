"""Signing in and out in a real browser."""

from playwright.sync_api import Page, expect

from tests.ui.conftest import Stack, log_in, screenshot


def test_a_wrong_password_says_so_and_stays_on_the_login_page(stack: Stack, page: Page) -> None:
    page.goto(stack.url)
    expect(page).to_have_url(f"{stack.url}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("password")
    screenshot(page, "login")


def test_the_session_survives_a_reload_and_ends_with_logout(stack: Stack, page: Page) -> None:
    log_in(page, stack.url)
    expect(page.get_by_test_id("whoami")).to_contain_text("admin")
    page.reload()
    expect(page.get_by_test_id("whoami")).to_contain_text("admin")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{stack.url}/login")
    page.goto(f"{stack.url}/builds")
    expect(page).to_have_url(f"{stack.url}/login")
