"""The console's browser tests: Debian's Chromium driven by Playwright, axe-core, screenshots.

Playwright drives the system browser (``executable_path``; `make system-deps` installs it):
``playwright install`` and any download at run time are never used. Each test gets a fresh
browser context (its own cookies and storage) and page; what the page logs is collected and a
test fails on an uncaught JavaScript error or an error message in the console (a CSP violation,
say), except an API answer of 4xx that the flow provokes on purpose (the 401 of the session
probe before sign-in, the 422 of a refused form).

Import the fixtures into a test module: ``from tests.support.browser import chromium, console``
(their pytest names are ``browser`` and ``page``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect, sync_playwright

__all__ = [
    "CHROMIUM",
    "LAUNCH_ARGS",
    "FirstLoad",
    "PageLog",
    "artifacts_dir",
    "assert_accessible",
    "axe_check",
    "chromium",
    "console",
    "measure_first_load",
    "screenshot",
    "sign_in",
]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("FEDOPS_CHROMIUM", "/usr/bin/chromium"))
# What this machine (root, no GPU, no network but loopback) needs: no sandbox as root, no GPU
# process, and none of the browser's own calls home (updates, sync, field trials, QUIC probes).
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000  # a page that takes longer than this to show a label is broken, not slow
expect.set_options(timeout=TIMEOUT_MS)
# Only an API answer the flow asks for on purpose may log an error: nothing else.
_EXPECTED_ERROR = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")


def artifacts_dir() -> Path:
    """FEDOPS_TEST_ARTIFACTS, else <repo>/test-artifacts/console (gitignored); created."""
    directory = Path(os.environ.get("FEDOPS_TEST_ARTIFACTS", REPO / "test-artifacts" / "console"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of what the page shows now, as <artifacts>/<name>.png."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


_SHARED = pytest.StashKey[Browser]()


@pytest.fixture(scope="session", name="browser")
def chromium(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """One Chromium for the test session, closed (its processes ended) at the end.

    Each module that imports this fixture gets its own copy of it, and Playwright's sync API
    runs one instance per thread: the first copy launches the browser, the others reuse it
    (session fixtures end in the reverse order, so the first one closes it last).
    """
    shared = request.config.stash.get(_SHARED, None)
    if shared is not None:
        yield shared
        return
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `make system-deps` (Debian's chromium)"
    with sync_playwright() as playwright:
        # Playwright gives the browser a fresh temporary profile (user-data-dir) of its own.
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True, timeout=60_000
        )
        request.config.stash[_SHARED] = browser
        try:
            yield browser
        finally:
            del request.config.stash[_SHARED]
            browser.close()


@dataclass
class PageLog:
    """What a page said: console messages and uncaught errors, kept for the failure message."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        where = message.location.get("url", "") if message.location else ""
        text = f"{message.type}: {message.text} ({where})"
        self.messages.append(text)
        if message.type == "error" and not (_EXPECTED_ERROR.search(message.text) and "/api/v1/" in where):
            self.errors.append(text)

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")


@pytest.fixture(name="page")
def console(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context; the test fails if the page raised or logged an error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log = PageLog()
    page.on("console", log.on_console)
    page.on("pageerror", log.on_page_error)
    try:
        yield page
    finally:
        context.close()
    assert not log.errors, "the page logged errors:\n" + "\n".join(log.errors)


def _axe_source() -> str:
    tools = Path(os.environ.get("FEDOPS_JS_TOOLS", Path.home() / ".cache" / "fedops" / "js-missing"))
    path = tools / "node_modules" / "axe-core" / "axe.min.js"
    assert path.exists(), f"{path} is missing: run `make js-tools` (it installs axe-core)"
    return path.read_text()


def axe_check(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of serious or critical impact on the page as it is now.

    axe is evaluated through the DevTools protocol (page.evaluate), which the page's CSP
    (script-src 'self') does not govern, so the CSP stays on for the test: a <script> tag
    (add_script_tag) would be refused by it, and bypass_csp would hide real violations.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;true")
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { resultTypes: ["violations"] });
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                               nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
        }"""
    )
    return violations


def assert_accessible(page: Page, name: str) -> None:
    violations = axe_check(page)
    assert not violations, f"axe-core on {name}:\n" + json.dumps(violations, indent=2)


@dataclass(frozen=True)
class FirstLoad:
    """JS and CSS of the first load of the console: bytes on the wire (compressed) and decoded."""

    compressed: int
    decoded: int
    files: dict[str, int]
    encodings: dict[str, str]

    def describe(self) -> str:
        return (
            f"first load of /: {len(self.files)} JS+CSS files, {self.compressed} bytes compressed "
            f"({self.compressed / 1024:.1f} KiB), {self.decoded} bytes decoded"
        )


def measure_first_load(browser: Browser, url: str) -> FirstLoad:
    """Load ``url`` in a fresh context (empty cache) and add up its scripts' and styles' bodies.

    The compressed size is Playwright's ``responseBodySize`` (the body as transferred, before
    the gzip is undone; headers not counted), the decoded size the body's length.
    """
    context = browser.new_context()
    try:
        page = context.new_page()
        responses: list[Response] = []
        page.on("response", lambda response: responses.append(response))
        page.goto(url, wait_until="networkidle")
        files: dict[str, int] = {}
        encodings: dict[str, str] = {}
        decoded = 0
        for response in responses:
            if response.request.resource_type not in ("script", "stylesheet"):
                continue
            response.finished()
            name = response.url.removeprefix(url.rstrip("/"))
            files[name] = response.request.sizes()["responseBodySize"]
            encodings[name] = response.headers.get("content-encoding", "identity")
            decoded += len(response.body())
        return FirstLoad(sum(files.values()), decoded, files, encodings)
    finally:
        context.close()


def sign_in(page: Page, url: str, token: str) -> None:
    """Open the console at ``url`` and sign in with the admin token."""
    page.goto(url.rstrip("/") + "/")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
