"""Signing in to the console in a real Chromium: the admin token becomes an HttpOnly session
cookie and is kept nowhere a script or a URL could leak it; sign-out and a 401 end at sign-in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect

from tests.conftest import ADMIN_TOKEN
from tests.support.browser import chromium, console, sign_in
from tooling.local_federation import LocalFederation

pytestmark = pytest.mark.slow
__all__ = ["chromium", "console"]  # the fixtures `browser` and `page`

_STORED = """() => JSON.stringify([
    location.href, document.cookie,
    Object.entries(localStorage), Object.entries(sessionStorage),
])"""


def _at_sign_in(page: Page) -> None:
    expect(page.get_by_label("Admin token")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_the_token_is_exchanged_for_an_http_only_cookie_and_kept_nowhere_else(
    page: Page, federation: LocalFederation
) -> None:
    sign_in(page, federation.url, ADMIN_TOKEN)

    stored = page.evaluate(_STORED)
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert ADMIN_TOKEN not in stored and ADMIN_TOKEN not in page.url
    assert "fedops_session" not in stored  # HttpOnly: no script reads it
    session = cookies["fedops_session"]
    assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
    assert ADMIN_TOKEN not in session["value"]
    expect(page.get_by_label("Admin token")).to_have_count(0)  # the field is gone with its value

    page.reload()  # the session outlives a reload: the cookie, not the page, holds it
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_sign_out_returns_to_sign_in_and_ends_the_session(page: Page, federation: LocalFederation) -> None:
    sign_in(page, federation.url, ADMIN_TOKEN)
    cookie = {c["name"]: c["value"] for c in page.context.cookies()}["fedops_session"]

    page.get_by_role("button", name="Sign out").click()

    _at_sign_in(page)
    # Revoked on the server, not only forgotten by the browser.
    answer = page.request.get(
        f"{federation.url}/api/v1/session", headers={"Cookie": f"fedops_session={cookie}"}
    )
    assert answer.status == 401
    page.reload()
    _at_sign_in(page)


def test_a_401_returns_to_sign_in(page: Page, federation: LocalFederation) -> None:
    sign_in(page, federation.url, ADMIN_TOKEN)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New task").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New task")

    page.context.clear_cookies()  # the session is gone, as when it expires
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks", exact=True).click()

    _at_sign_in(page)


def test_a_failed_sign_out_stays_signed_in_and_says_why(page: Page, federation: LocalFederation) -> None:
    sign_in(page, federation.url, ADMIN_TOKEN)
    refusal = '{"error": {"code": "csrf_failed", "message": "the CSRF token is missing or wrong"}}'

    def refuse(route: Route) -> None:
        if route.request.method == "DELETE":
            route.fulfill(status=403, content_type="application/json", body=refusal)
        else:
            route.fallback()

    page.route("**/api/v1/session", refuse)
    page.get_by_role("button", name="Sign out").click()

    # The cookie is still live: the page must not pretend it signed out.
    expect(page.get_by_role("alert")).to_contain_text("the CSRF token is missing or wrong")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.unroute("**/api/v1/session", refuse)
    page.get_by_role("button", name="Sign out").click()  # a retry that works ends the session
    _at_sign_in(page)


@pytest.mark.parametrize("hash_path", ["/tasks/%E0", "/tasks/..", "/tasks/./server", "/tasks/a%2Fb"])
def test_a_malformed_or_foreign_task_id_is_not_found(
    page: Page, federation: LocalFederation, hash_path: str
) -> None:
    sign_in(page, federation.url, ADMIN_TOKEN)

    page.goto(f"{federation.url}/#{hash_path}")

    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # the app still runs
