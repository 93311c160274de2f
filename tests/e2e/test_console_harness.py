"""The browser tests' own tools catch what they are there to catch: axe-core finds a serious
violation under the console's CSP, the page log fails a test on a JavaScript error or a CSP
refusal, and a screenshot is a PNG where the artifacts go."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.support.browser import PageLog, axe_check, chromium, screenshot

pytestmark = pytest.mark.slow
__all__ = ["chromium"]  # the fixture `browser`

# The console's CSP, as a meta tag: axe must run under it, and an inline script is refused.
_PAGE = """<!doctype html><html lang="en"><head><title>harness</title>
<meta http-equiv="Content-Security-Policy" content="script-src 'self'; style-src 'self'">
</head><body><main><h1>Harness</h1>{body}</main></body></html>"""


@pytest.fixture
def bare(browser: Browser) -> Page:
    return browser.new_context().new_page()


def test_axe_reports_serious_violations_under_the_csp(bare: Page) -> None:
    bare.set_content(_PAGE.format(body="<p>fine</p>"))
    clean = axe_check(bare)
    bare.set_content(_PAGE.format(body='<img src="x.png"><button></button>'))

    found = {violation["id"]: violation["impact"] for violation in axe_check(bare)}

    assert clean == []
    assert found == {"image-alt": "critical", "button-name": "critical"}


_SITE = {  # path: (status, content type, body) of a made-up origin, served by page.route
    "/": (200, "text/html", _PAGE.format(
        body='<script src="/app.js"></script><script>console.log("inline ran")</script>'
             '<link rel="stylesheet" href="/missing.css">'
    )),
    "/app.js": (200, "text/javascript",
                'fetch("/api/v1/session"); setTimeout(() => { throw new Error("boom"); });'),
    "/api/v1/session": (401, "application/json", '{"error": {"code": "unauthenticated"}}'),
}  # fmt: skip


def _serve(route: Route) -> None:
    path = "/" + route.request.url.split("/", 3)[3]
    status, kind, body = _SITE.get(path, (404, "text/plain", "no"))
    route.fulfill(status=status, content_type=kind, body=body)


def test_the_page_log_keeps_errors_and_csp_refusals_but_not_a_provoked_api_4xx(bare: Page) -> None:
    log = PageLog()
    bare.on("console", log.on_console)
    bare.on("pageerror", log.on_page_error)
    bare.route("http://harness.test/**", _serve)

    with bare.expect_response("**/api/v1/session"):
        bare.goto("http://harness.test/")

    # The thrown error, the 404 and the 401's message arrive after the load, in no set order:
    # wait for all of them (bounded; the assertions below say which one did not come).
    def arrived() -> bool:
        return (
            any("boom" in error for error in log.errors)
            and any("missing.css" in error for error in log.errors)
            and any("401" in message for message in log.messages)
        )

    for _ in range(200):
        if arrived():
            break
        bare.wait_for_timeout(50)

    assert any("boom" in error for error in log.errors)  # an uncaught error
    assert any("Content Security Policy" in error for error in log.errors)  # the inline script
    assert not any("inline ran" in message for message in log.messages)  # ... which did not run
    assert any("404" in error and "missing.css" in error for error in log.errors)
    assert not any("/api/v1/session" in error for error in log.errors)  # the 401 the flow provokes
    assert any("401" in message for message in log.messages)  # ... was seen, and let pass


def test_a_screenshot_is_a_png_in_the_artifacts_dir(
    bare: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDOPS_TEST_ARTIFACTS", str(tmp_path / "shots"))
    bare.set_content(_PAGE.format(body="<p>picture</p>"))

    path = screenshot(bare, "harness")

    assert path == tmp_path / "shots" / "harness.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
